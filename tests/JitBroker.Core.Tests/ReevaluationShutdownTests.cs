using JitBroker.Core;
using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;

namespace JitBroker.Core.Tests;

/// <summary>Issue 16 item 7: cancelling a re-evaluation (the host stopping) stops the examination, never the commit.</summary>
public sealed class ReevaluationShutdownTests
{
    [Test]
    public async Task A_pass_cancelled_midway_still_schedules_and_audits_what_it_found_and_says_it_was_cut_short()
    {
        var f = new PipelineFixture();
        var leases = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            leases.Add((await f.IssueAsync(PipelineFixture.Request($"t{i}"))).Lease.LeaseId);
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
        var reevaluator = new PolicyReevaluator(f.Leases, f.Schedule, f.Audit, f.Time, NullLogger<PolicyReevaluator>.Instance);

        var offending = await reevaluator.ReevaluateAsync(policy.Object, ReloadAction.Revoke, stopping.Token);
        await f.SweepAsync();

        Assert.That(offending, Has.Count.EqualTo(1));
        Assert.That((await f.Leases.GetAsync(offending[0]))!.State, Is.EqualTo(LeaseState.Revoked), "what was found is committed");
        var untouched = leases.Except(offending).ToList();
        Assert.That(await Task.WhenAll(untouched.Select(async id => (await f.Leases.GetAsync(id))!.State)), Has.All.EqualTo(LeaseState.Active));
        var scheduled = f.Audit.OfType(AuditEventTypes.RevocationScheduled).Single();
        Assert.That(scheduled.Detail, Does.Contain("interrupted by shutdown after 1 lease(s)"));
    }

    [Test]
    public async Task A_pass_cancelled_before_finding_anything_is_audited_as_cut_short()
    {
        var f = new PipelineFixture();
        await f.IssueAsync();
        var reevaluator = new PolicyReevaluator(f.Leases, f.Schedule, f.Audit, f.Time, NullLogger<PolicyReevaluator>.Instance);

        var offending = await reevaluator.ReevaluateAsync(new Moq.Mock<IPolicyEngine>(Moq.MockBehavior.Strict).Object, ReloadAction.Flag, new CancellationToken(canceled: true));

        Assert.That(offending, Is.Empty);
        Assert.That(f.Audit.OfType(AuditEventTypes.PolicyReloaded).Single().Detail, Does.Contain("interrupted by shutdown after 0 lease(s)"));
    }
}
