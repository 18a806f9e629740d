using JitBroker.Core;
using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;

namespace JitBroker.Core.Tests;

/// <summary>Issue 16 item 7: cancelling a re-evaluation (the host stopping) stops the examination, never the commit.</summary>
public sealed class ReevaluationShutdownTests
{
    [Test]
    public async Task A_pass_cancelled_midway_finishes_its_page_commits_and_audits_what_it_found_and_says_it_was_cut_short()
    {
        var f = new PipelineFixture();
        var template = (await f.IssueAsync()).Lease;
        for (var i = 1; i < 600; i++)
        {
            await f.Leases.PutAsync(template with { LeaseId = LeaseIds.New() });
        }

        // The new policy grants nothing; the host begins to stop while the first lease is being judged.
        using var stopping = new CancellationTokenSource();
        var policy = new Moq.Mock<IPolicyEngine>();
        policy.Setup(p => p.Decide(Moq.It.IsAny<WorkloadIdentity>(), Moq.It.IsAny<CredentialRequest>()))
            .Returns(() =>
            {
                stopping.Cancel();
                return PolicyDecision.Deny("nothing is granted any more");
            });
        var reevaluator = new PolicyReevaluator(f.Leases, f.Leases, f.Schedule, f.Audit, f.Time, NullLogger<PolicyReevaluator>.Instance);

        var offending = await reevaluator.ReevaluateAsync(policy.Object, ReloadAction.Revoke, stopping.Token);
        var revoked = await f.SweepAsync();

        Assert.That(offending, Has.Count.EqualTo(500), "the page in hand (500 leases) is judged to its end, the next is not fetched");
        Assert.That(revoked, Is.EqualTo(500), "what was found is committed to the schedule");
        var counts = await f.Leases.CountByStateAsync();
        Assert.That(counts.GetValueOrDefault(LeaseState.Active), Is.EqualTo(100));
        var scheduled = f.Audit.OfType(AuditEventTypes.RevocationScheduled).Single();
        Assert.That(scheduled.Detail, Does.Contain("500 scheduled").And.Contain("interrupted by shutdown after 500 lease(s)"));
    }

    [Test]
    public async Task A_pass_cancelled_before_finding_anything_is_audited_as_cut_short()
    {
        var f = new PipelineFixture();
        await f.IssueAsync();
        var reevaluator = new PolicyReevaluator(f.Leases, f.Leases, f.Schedule, f.Audit, f.Time, NullLogger<PolicyReevaluator>.Instance);

        var offending = await reevaluator.ReevaluateAsync(new Moq.Mock<IPolicyEngine>(Moq.MockBehavior.Strict).Object, ReloadAction.Flag, new CancellationToken(canceled: true));

        Assert.That(offending, Is.Empty);
        Assert.That(f.Audit.OfType(AuditEventTypes.PolicyReloaded).Single().Detail, Does.Contain("interrupted by shutdown after 0 lease(s)"));
    }
}
