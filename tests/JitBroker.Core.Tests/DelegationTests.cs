using JitBroker.Core;
using JitBroker.Core.Handlers;
using NUnit.Framework;

namespace JitBroker.Core.Tests;

public sealed class DelegationTests
{
    private const string Planner = PipelineFixture.Agent;
    private const string W1 = "spiffe://example.org/workers/w1";
    private const string W2 = "spiffe://example.org/workers/w2";
    private const string W3 = "spiffe://example.org/workers/w3";

    private static PipelineFixture WithRules(int maxDepth = 3, bool ledgerMarkIssuer = false)
    {
        var f = new PipelineFixture(ledgerMarkIssuer: ledgerMarkIssuer);
        f.DelegationPolicy.Rules.Add(("spiffe://example.org/**", "spiffe://example.org/workers/*", maxDepth));
        return f;
    }

    private static Task<CredentialGrantResult> Root(PipelineFixture f) =>
        f.IssueAsync(PipelineFixture.Request("t1", ttl: TimeSpan.FromMinutes(10), tools: ["zendesk", "crm"]) with
        {
            Intent = new TaskIntent("tickets.create", "why", ["zendesk", "crm"], ["tickets/1"], new Dictionary<string, string>()),
        });

    private static async Task<CredentialGrantResult> Hop(PipelineFixture f, string from, Lease parent, string to, string[] tools, string[]? resources = null, TimeSpan? ttl = null)
    {
        var (offer, _) = await f.OfferDelegation.HandleAsync(f.As(from), parent.LeaseId, to, tools, resources ?? ["tickets/1"], ttl);
        return await f.DelegateCredential.HandleAsync(f.As(to), offer);
    }

    [Test]
    public async Task Three_hops_narrow_and_carry_the_actor_chain_current_actor_first()
    {
        var f = WithRules();
        var root = await Root(f);

        var c1 = await Hop(f, Planner, root.Lease, W1, ["zendesk", "crm"], ttl: TimeSpan.FromMinutes(8));
        var c2 = await Hop(f, W1, c1.Lease, W2, ["zendesk"]);
        var c3 = await Hop(f, W2, c2.Lease, W3, ["zendesk"], resources: []);

        Assert.Multiple(() =>
        {
            Assert.That(c3.Delegation!.Subject, Is.EqualTo(Planner), "the subject is the root planner's grant");
            Assert.That(c3.Delegation.Actors, Is.EqualTo(new[] { W3, W2, W1 }));
            Assert.That(c1.Lease.ParentLeaseId, Is.EqualTo(root.Lease.LeaseId));
            Assert.That(c3.Lease.ParentLeaseId, Is.EqualTo(c2.Lease.LeaseId));
            Assert.That(c2.Lease.Scope.Tools, Is.EqualTo(new[] { "zendesk" }));
            Assert.That(c3.Lease.Scope.Resources, Is.Empty);
            Assert.That(c1.Lease.ExpiresAt, Is.LessThanOrEqualTo(root.Lease.ExpiresAt));
            Assert.That(c3.Lease.ExpiresAt, Is.LessThanOrEqualTo(c2.Lease.ExpiresAt));
            Assert.That(c3.Lease.AgentId, Is.EqualTo(W3));
        });
        Assert.That(f.Audit.OfType(AuditEventTypes.CredentialDelegated).Count(e => e.Decision == "allow"), Is.EqualTo(3));
    }

    [TestCase(new[] { "zendesk", "prod-db" }, new[] { "tickets/1" }, TestName = "an extra tool")]
    [TestCase(new[] { "zendesk" }, new[] { "tickets/*" }, TestName = "a wider resource pattern")]
    [TestCase(new[] { "zendesk" }, new[] { "tickets/2" }, TestName = "another resource")]
    public async Task Any_widening_is_refused(string[] tools, string[] resources)
    {
        var f = WithRules();
        var root = await Root(f);
        var ex = Assert.ThrowsAsync<BrokerException>(() => f.OfferDelegation.HandleAsync(f.As(Planner), root.Lease.LeaseId, W1, tools, resources, null));
        Assert.That(ex!.Failure, Is.EqualTo(BrokerFailure.PermissionDenied));
        Assert.That(ex.Reason, Is.EqualTo(Reasons.Delegation.Widening));
    }

    [Test]
    public async Task A_child_never_outlives_its_parent()
    {
        var f = WithRules();
        var root = await Root(f);
        var child = await Hop(f, Planner, root.Lease, W1, ["zendesk"], ttl: TimeSpan.FromHours(5));
        Assert.That(child.Lease.ExpiresAt, Is.LessThanOrEqualTo(root.Lease.ExpiresAt));
    }

    [Test]
    public async Task Depth_beyond_the_policy_maximum_is_refused()
    {
        var f = WithRules(maxDepth: 2);
        var root = await Root(f);
        var c1 = await Hop(f, Planner, root.Lease, W1, ["zendesk"]);
        var c2 = await Hop(f, W1, c1.Lease, W2, ["zendesk"]);
        var ex = Assert.ThrowsAsync<BrokerException>(() => f.OfferDelegation.HandleAsync(f.As(W2), c2.Lease.LeaseId, W3, ["zendesk"], [], null));
        Assert.That(ex!.Reason, Is.EqualTo(Reasons.Delegation.TooDeep));
    }

    [Test]
    public async Task Delegating_back_into_the_chain_is_a_cycle()
    {
        var f = WithRules();
        f.DelegationPolicy.Rules.Add(("spiffe://example.org/workers/*", "spiffe://example.org/**", 5));
        var root = await Root(f);
        var c1 = await Hop(f, Planner, root.Lease, W1, ["zendesk"]);
        var ex = Assert.ThrowsAsync<BrokerException>(() => f.OfferDelegation.HandleAsync(f.As(W1), c1.Lease.LeaseId, Planner, ["zendesk"], [], null));
        Assert.That(ex!.Reason, Is.EqualTo(Reasons.Delegation.Cycle));
    }

    [Test]
    public async Task Policy_decides_who_may_delegate_to_whom()
    {
        var f = WithRules();
        var root = await Root(f);
        var ex = Assert.ThrowsAsync<BrokerException>(() =>
            f.OfferDelegation.HandleAsync(f.As(Planner), root.Lease.LeaseId, "spiffe://other.org/x", ["zendesk"], [], null));
        Assert.That(ex!.Reason, Is.EqualTo(Reasons.Delegation.Denied));
    }

    [Test]
    public async Task An_offer_is_single_use_and_only_for_the_named_worker()
    {
        var f = WithRules();
        var root = await Root(f);
        var (offer, _) = await f.OfferDelegation.HandleAsync(f.As(Planner), root.Lease.LeaseId, W1, ["zendesk"], [], null);

        var stranger = Assert.ThrowsAsync<BrokerException>(() => f.DelegateCredential.HandleAsync(f.As(W2), offer));
        Assert.That(stranger!.Reason, Is.EqualTo(Reasons.Delegation.OfferInvalid));

        await f.DelegateCredential.HandleAsync(f.As(W1), offer);
        var again = Assert.ThrowsAsync<BrokerException>(() => f.DelegateCredential.HandleAsync(f.As(W1), offer));
        Assert.That(again!.Reason, Is.EqualTo(Reasons.Delegation.OfferUsed));

        var forged = Assert.ThrowsAsync<BrokerException>(() => f.DelegateCredential.HandleAsync(f.As(W1), "offer-forged"));
        Assert.That(forged!.Reason, Is.EqualTo(Reasons.Delegation.OfferInvalid));
    }

    [Test]
    public async Task An_offer_expires_and_dies_with_its_parent()
    {
        var f = WithRules();
        var root = await Root(f);
        var (late, _) = await f.OfferDelegation.HandleAsync(f.As(Planner), root.Lease.LeaseId, W1, ["zendesk"], [], null);
        f.Time.Advance(OfferDelegationHandler.OfferLifetime + TimeSpan.FromSeconds(1));
        Assert.That(Assert.ThrowsAsync<BrokerException>(() => f.DelegateCredential.HandleAsync(f.As(W1), late))!.Reason,
            Is.EqualTo(Reasons.Delegation.OfferExpired));

        var (orphan, _) = await f.OfferDelegation.HandleAsync(f.As(Planner), root.Lease.LeaseId, W1, ["zendesk"], [], null);
        await f.EndTask.HandleAsync(f.As(Planner), "t1");
        Assert.That(Assert.ThrowsAsync<BrokerException>(() => f.DelegateCredential.HandleAsync(f.As(W1), orphan))!.Reason,
            Is.EqualTo(Reasons.LeaseNotActive));
    }

    [TestCase(false, TestName = "Ending_the_planners_task_revokes_the_whole_chain")]
    [TestCase(true, TestName = "Ending_the_planners_task_revokes_the_whole_chain_in_the_ledgers_claim_when_the_issuers_revocation_is_the_mark")]
    public async Task Ending_the_planners_task_revokes_the_whole_chain(bool ledgerMarkIssuer)
    {
        var f = WithRules(ledgerMarkIssuer: ledgerMarkIssuer);
        var root = await Root(f);
        var c1 = await Hop(f, Planner, root.Lease, W1, ["zendesk"]);
        var c2 = await Hop(f, W1, c1.Lease, W2, ["zendesk"]);
        var c3 = await Hop(f, W2, c2.Lease, W3, ["zendesk"]);

        var ended = await f.EndTask.HandleAsync(f.As(Planner), "t1");

        Assert.That(ended.Leases.Select(l => l.LeaseId), Is.EquivalentTo(new[] { root.Lease.LeaseId, c1.Lease.LeaseId, c2.Lease.LeaseId, c3.Lease.LeaseId }));
        Assert.That(ended.Leases.Select(l => l.Outcome), Has.All.EqualTo(LeaseOutcomeKind.Revoked));
        foreach (var id in new[] { c1, c2, c3 }.Select(c => c.Lease.LeaseId))
        {
            Assert.That((await f.Leases.GetAsync(id))!.State, Is.EqualTo(LeaseState.Revoked));
        }

        Assert.That(f.Issuer.Revoked, ledgerMarkIssuer ? Is.Empty : Has.Count.EqualTo(4), "the issuer is asked only when its revocation is not the ledger's mark");
        Assert.That(f.Audit.OfType(AuditEventTypes.LeaseRevoked).Count(), Is.EqualTo(4), "one lease.revoked per lease");
        var again = await f.EndTask.HandleAsync(f.As(Planner), "t1");
        Assert.That(again.Leases.Select(l => l.Outcome), Has.All.EqualTo(LeaseOutcomeKind.AlreadyRevoked));
        Assert.That(f.Audit.OfType(AuditEventTypes.LeaseRevoked).Count(), Is.EqualTo(4), "ending it again revokes and records nothing");
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task Ending_a_task_answers_only_once_every_lease_revoked_record_and_the_task_ended_record_after_them_are_stored(bool ledgerMarkIssuer)
    {
        var f = WithRules(ledgerMarkIssuer: ledgerMarkIssuer);
        var root = await Root(f);
        var c1 = await Hop(f, Planner, root.Lease, W1, ["zendesk"]);
        var c2 = await Hop(f, W1, c1.Lease, W2, ["zendesk"]);
        f.Audit.Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var ending = f.EndTask.HandleAsync(f.As(Planner), "t1");
        // Deterministic, not a sleep: once task.ended is captured, every record EndTask writes has been queued.
        for (var waited = 0; !f.Audit.OfType(AuditEventTypes.TaskEnded).Any() && waited < 1000; waited++)
        {
            await Task.Delay(10);
        }

        var types = f.Audit.Events.Select(e => (e.Type, e.LeaseId)).SkipWhile(e => e.Type != AuditEventTypes.LeaseRevoked).ToList();
        Assert.That(types.Take(3).Select(e => e.LeaseId), Is.EquivalentTo(new[] { root.Lease.LeaseId, c1.Lease.LeaseId, c2.Lease.LeaseId }),
            "a lease.revoked record for the task's lease and each delegated descendant, queued first");
        Assert.That(types.Skip(3).Select(e => e.Type), Is.EqualTo(new[] { AuditEventTypes.TaskEnded }), "then task.ended, before any of them is stored");
        Assert.That(ending.IsCompleted, Is.False, "no answer while the records are not stored");
        Assert.That(f.Audit.Calls.Last(), Is.EqualTo(new[] { AuditEventTypes.LeaseRevoked, AuditEventTypes.LeaseRevoked, AuditEventTypes.LeaseRevoked, AuditEventTypes.TaskEnded }),
            "all four are one append: the audit writer stores them in one batch (one fsync)");

        f.Audit.Hold.SetResult();
        var ended = await ending;
        Assert.That(ended.Leases.Select(l => l.Outcome), Has.All.EqualTo(LeaseOutcomeKind.Revoked));
    }

    [Test]
    public async Task The_kill_switch_on_a_planner_reaches_its_workers_leases()
    {
        var f = WithRules();
        var admin = await f.AdminAuthorization.AuthorizeAsync(f.As(PipelineFixture.Human));
        var root = await Root(f);
        var c1 = await Hop(f, Planner, root.Lease, W1, ["zendesk"]);
        var c2 = await Hop(f, W1, c1.Lease, W2, ["zendesk"]);

        var (_, revocations) = await f.KillSwitchAdmin.BlockAsync(admin, Planner, "planner compromised");

        Assert.That(revocations.Scheduled, Is.EqualTo(3), "the planner's lease and both hops below it, in one step");
        Assert.That(await f.SweepAsync(), Is.EqualTo(3));
        foreach (var id in new[] { root, c1, c2 }.Select(c => c.Lease.LeaseId))
        {
            Assert.That((await f.Leases.GetAsync(id))!.State, Is.EqualTo(LeaseState.Revoked));
        }
    }
}

public sealed class DelegationReevaluationTests
{
    private const string Planner = PipelineFixture.Agent;
    private const string W1 = "spiffe://example.org/workers/w1";

    [Test]
    public async Task A_reload_judges_delegated_leases_by_the_delegation_rules_and_cascades_revocation()
    {
        var f = new PipelineFixture();
        f.DelegationPolicy.Rules.Add(("spiffe://example.org/**", "spiffe://example.org/workers/*", 3));
        var root = await f.IssueAsync(PipelineFixture.Request("t1", tools: "zendesk"));
        var (offer, _) = await f.OfferDelegation.HandleAsync(f.As(Planner), root.Lease.LeaseId, W1, ["zendesk"], ["tickets/1"], null);
        var child = await f.DelegateCredential.HandleAsync(f.As(W1), offer);
        // Credential rules allow the planner only: the worker has no rule of its own.
        f.Decide = (agent, r) => agent.Id == Planner ? PipelineFixture.Allow(r, TimeSpan.FromMinutes(10)) : PolicyDecision.Deny("workers get nothing directly");
        var policy = new Moq.Mock<IPolicyEngine>();
        policy.Setup(p => p.Decide(Moq.It.IsAny<WorkloadIdentity>(), Moq.It.IsAny<CredentialRequest>()))
            .Returns((WorkloadIdentity a, CredentialRequest r) => f.Decide(a, r));
        var reevaluator = new PolicyReevaluator(f.Leases, f.Leases, f.Schedule, f.Audit, f.Time,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<PolicyReevaluator>.Instance, f.DelegationPolicy);

        Assert.That(await reevaluator.ReevaluateAsync(policy.Object, ReloadAction.Revoke), Is.Empty, "the delegation rule still holds");
        Assert.That((await f.Leases.GetAsync(child.Lease.LeaseId))!.State, Is.EqualTo(LeaseState.Active));

        f.Decide = (_, _) => PolicyDecision.Deny("tickets frozen");
        var offending = await reevaluator.ReevaluateAsync(policy.Object, ReloadAction.Revoke);
        Assert.That(offending, Does.Contain(root.Lease.LeaseId));
        Assert.That((await f.Leases.GetAsync(child.Lease.LeaseId))!.State, Is.EqualTo(LeaseState.Revoking), "scheduled with its parent at once");
        await f.SweepAsync();
        Assert.That((await f.Leases.GetAsync(child.Lease.LeaseId))!.State, Is.EqualTo(LeaseState.Revoked), "the child goes with its parent");
    }

    [Test]
    public async Task A_reload_that_withdraws_the_delegation_rule_revokes_only_the_delegated_lease()
    {
        var f = new PipelineFixture();
        f.DelegationPolicy.Rules.Add(("spiffe://example.org/**", "spiffe://example.org/workers/*", 3));
        var root = await f.IssueAsync(PipelineFixture.Request("t1", tools: "zendesk"));
        var (offer, _) = await f.OfferDelegation.HandleAsync(f.As(Planner), root.Lease.LeaseId, W1, ["zendesk"], ["tickets/1"], null);
        var child = await f.DelegateCredential.HandleAsync(f.As(W1), offer);
        var policy = new Moq.Mock<IPolicyEngine>();
        policy.Setup(p => p.Decide(Moq.It.IsAny<WorkloadIdentity>(), Moq.It.IsAny<CredentialRequest>()))
            .Returns((WorkloadIdentity a, CredentialRequest r) => PipelineFixture.Allow(r, TimeSpan.FromMinutes(10)));
        f.DelegationPolicy.Rules.Clear();
        var reevaluator = new PolicyReevaluator(f.Leases, f.Leases, f.Schedule, f.Audit, f.Time,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<PolicyReevaluator>.Instance, f.DelegationPolicy);

        Assert.That(await reevaluator.ReevaluateAsync(policy.Object, ReloadAction.Revoke), Is.EqualTo(new[] { child.Lease.LeaseId }));
        Assert.That((await f.Leases.GetAsync(root.Lease.LeaseId))!.State, Is.EqualTo(LeaseState.Active));
    }
}
