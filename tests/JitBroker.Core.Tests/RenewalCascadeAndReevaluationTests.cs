using JitBroker.Core;
using JitBroker.Core.Handlers;
using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;

namespace JitBroker.Core.Tests;

public sealed class RenewalCascadeAndReevaluationTests
{
    [Test]
    public async Task Renewal_extends_within_the_original_maximum_and_replaces_the_credential()
    {
        var f = new PipelineFixture();
        var granted = await f.IssueAsync(PipelineFixture.Request(ttl: TimeSpan.FromMinutes(2)));
        f.Time.Advance(TimeSpan.FromMinutes(1));

        var renewed = await f.RenewCredential.HandleAsync(f.Token(), granted.Lease.LeaseId, TimeSpan.FromMinutes(5));

        Assert.That(renewed.Lease.ExpiresAt, Is.EqualTo(f.Time.GetUtcNow() + TimeSpan.FromMinutes(5)));
        Assert.That(renewed.NewSecret, Is.Not.Null);
        Assert.That(renewed.Lease.CredentialFingerprint, Is.EqualTo(Fingerprints.Of(renewed.NewSecret!)));

        var capped = await f.RenewCredential.HandleAsync(f.Token(), granted.Lease.LeaseId, TimeSpan.FromMinutes(30));
        Assert.That(capped.Lease.ExpiresAt, Is.EqualTo(granted.Lease.IssuedAt + TimeSpan.FromMinutes(10)), "capped at issue time + rule max");

        var ex = Assert.ThrowsAsync<BrokerException>(() => f.RenewCredential.HandleAsync(f.Token(), granted.Lease.LeaseId, TimeSpan.FromMinutes(30)));
        Assert.That(ex!.Reason, Is.EqualTo(Reasons.RenewalMaxTtlReached));
    }

    [Test]
    public async Task Renewal_re_evaluates_policy_and_refuses_strangers()
    {
        var f = new PipelineFixture();
        var granted = await f.IssueAsync();

        f.Decide = (_, _) => PolicyDecision.Deny("tickets are frozen", "freeze");
        var denied = Assert.ThrowsAsync<BrokerException>(() => f.RenewCredential.HandleAsync(f.Token(), granted.Lease.LeaseId, null));
        Assert.That(denied!.Failure, Is.EqualTo(BrokerFailure.PermissionDenied));
        Assert.That(denied.Message, Does.Contain("frozen"));

        f.CurrentAgent = "spiffe://example.org/agents/other";
        var stranger = Assert.ThrowsAsync<BrokerException>(() => f.RenewCredential.HandleAsync(f.Token(), granted.Lease.LeaseId, null));
        Assert.That(stranger!.Failure, Is.EqualTo(BrokerFailure.NotFound));
    }

    [Test]
    public async Task A_revoked_lease_cannot_be_renewed()
    {
        var f = new PipelineFixture();
        var granted = await f.IssueAsync();
        await f.EndTask.HandleAsync(f.Token(), "t1");

        var ex = Assert.ThrowsAsync<BrokerException>(() => f.RenewCredential.HandleAsync(f.Token(), granted.Lease.LeaseId, null));
        Assert.That(ex!.Reason, Is.EqualTo(Reasons.LeaseNotActive));
    }

    [Test]
    public async Task EndTask_revokes_delegated_descendants_at_any_depth()
    {
        var f = new PipelineFixture();
        var parent = await f.IssueAsync();
        var child = parent.Lease with { LeaseId = LeaseIds.New(), ParentLeaseId = parent.Lease.LeaseId, AgentId = "spiffe://example.org/agents/w1", TaskId = "sub" };
        var grandchild = child with { LeaseId = LeaseIds.New(), ParentLeaseId = child.LeaseId, AgentId = "spiffe://example.org/agents/w2" };
        await f.Leases.PutAsync(child);
        await f.Leases.PutAsync(grandchild);

        var ended = await f.EndTask.HandleAsync(f.Token(), "t1");

        Assert.That(ended.Leases.Select(l => l.LeaseId), Is.EquivalentTo(new[] { parent.Lease.LeaseId, child.LeaseId, grandchild.LeaseId }));
        Assert.That(ended.Leases.Select(l => l.Outcome), Has.All.EqualTo(LeaseOutcomeKind.Revoked));
        Assert.That((await f.Leases.GetAsync(grandchild.LeaseId))!.State, Is.EqualTo(LeaseState.Revoked));
    }

    [TestCase(ReloadAction.Revoke, LeaseState.Revoked)]
    [TestCase(ReloadAction.Flag, LeaseState.Active)]
    public async Task After_a_reload_leases_no_longer_granted_are_revoked_or_flagged(ReloadAction action, LeaseState expected)
    {
        var f = new PipelineFixture();
        var zendesk = await f.IssueAsync(PipelineFixture.Request("a", tools: "zendesk"));
        var crm = await f.IssueAsync(PipelineFixture.Request("b", tools: "crm"));
        // The new policy drops the crm tool; it also relies on the facts the lease kept.
        f.Decide = (agent, r) => agent.Facts.GetValueOrDefault("team") != "support"
            ? PolicyDecision.Deny("unknown team")
            : PipelineFixture.Allow(r with { Intent = r.Intent with { Tools = [.. r.Intent.Tools.Where(t => t != "crm")] } }, TimeSpan.FromMinutes(10));
        var policy = new Moq.Mock<IPolicyEngine>();
        policy.Setup(p => p.Decide(Moq.It.IsAny<WorkloadIdentity>(), Moq.It.IsAny<CredentialRequest>()))
            .Returns((WorkloadIdentity a, CredentialRequest r) => f.Decide(a, r));
        var reevaluator = new PolicyReevaluator(f.Leases, f.Leases, f.Schedule, f.Audit, f.Time, NullLogger<PolicyReevaluator>.Instance);

        var offending = await reevaluator.ReevaluateAsync(policy.Object, action);
        await f.SweepAsync();

        Assert.That(offending, Is.EqualTo(new[] { crm.Lease.LeaseId }));
        Assert.That((await f.Leases.GetAsync(crm.Lease.LeaseId))!.State, Is.EqualTo(expected));
        Assert.That((await f.Leases.GetAsync(zendesk.Lease.LeaseId))!.State, Is.EqualTo(LeaseState.Active));
    }
}
