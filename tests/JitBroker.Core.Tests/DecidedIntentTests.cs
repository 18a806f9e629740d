using JitBroker.Core;
using JitBroker.Policy;
using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;

namespace JitBroker.Core.Tests;

/// <summary>
/// Issue 16 item 9: a lease remembers the purpose and context policy read when it granted it, so a policy reload and a
/// renewal judge it by what was asked — with the real YAML engine, whose rules read both.
/// </summary>
public sealed class DecidedIntentTests
{
    private const string Purpose = "refund order 42 after the duplicate charge";

    private static string Policy(int purposeMinLength, int maxRisk) => $$"""
        version: 1
        rules:
          - id: careful-tickets
            effect: allow
            principals: { trust_domains: [example.org] }
            actions: ["tickets.create"]
            tools: ["zendesk"]
            resources: ["tickets/*"]
            purpose_min_length: {{purposeMinLength}}
            conditions:
              NumericLessThanEquals: { context.risk: {{maxRisk}} }
            credential: { kind: jwt, audiences: ["aud"], max_ttl: 10m }
        """;

    private static CredentialRequest Careful(string task = "t1") =>
        new(task, new TaskIntent("tickets.create", Purpose, ["zendesk"], ["tickets/1"],
            new Dictionary<string, string> { ["risk"] = "2", ["unread"] = "not for the ledger" }), "test", "aud", TimeSpan.FromMinutes(2));

    /// <summary>
    /// The pipeline driven by a YAML policy. The test issuer's kind is "test" and policy knows only real kinds, so the
    /// adapter speaks "jwt" to policy and "test" to the issuer registry; everything else is the engine's own answer.
    /// </summary>
    private static PipelineFixture With(YamlPolicyEngine engine)
    {
        var f = new PipelineFixture();
        Use(f, engine);
        return f;
    }

    private static void Use(PipelineFixture f, YamlPolicyEngine engine)
    {
        f.Reads = engine.IntentInputs;
        f.Decide = (agent, request) =>
        {
            var decision = engine.Decide(agent, request with { CredentialKind = "jwt" });
            return decision.Grant is { } grant ? decision with { Grant = grant with { CredentialKind = "test" } } : decision;
        };
    }

    private static IPolicyEngine AsEngine(PipelineFixture f)
    {
        var policy = new Moq.Mock<IPolicyEngine>();
        policy.Setup(p => p.Decide(Moq.It.IsAny<WorkloadIdentity>(), Moq.It.IsAny<CredentialRequest>()))
            .Returns((WorkloadIdentity a, CredentialRequest r) => f.Decide(a, r));
        return policy.Object;
    }

    private static PolicyReevaluator Reevaluator(PipelineFixture f) =>
        new(f.Leases, f.Leases, f.Schedule, f.Audit, f.Time, NullLogger<PolicyReevaluator>.Instance);

    [Test]
    public async Task A_lease_keeps_the_purpose_and_only_the_context_keys_policy_reads()
    {
        var f = With(YamlPolicyEngine.Parse(Policy(purposeMinLength: 20, maxRisk: 3), "p.yaml"));

        var granted = await f.IssueAsync(Careful());
        var stored = (await f.Leases.GetAsync(granted.Lease.LeaseId))!;

        Assert.That(stored.DecidedIntent.Purpose, Is.EqualTo(Purpose));
        Assert.That(stored.DecidedIntent.Context, Is.EquivalentTo(new Dictionary<string, string> { ["risk"] = "2" }), "context.unread is read by no rule");
    }

    [Test]
    public async Task A_policy_that_reads_neither_makes_the_lease_keep_nothing()
    {
        var f = With(YamlPolicyEngine.Parse("""
            version: 1
            rules:
              - id: plain
                effect: allow
                principals: { trust_domains: [example.org] }
                actions: ["tickets.create"]
                tools: ["zendesk"]
                resources: ["tickets/*"]
                credential: { kind: jwt, audiences: ["aud"], max_ttl: 10m }
            """, "p.yaml"));

        var granted = await f.IssueAsync(Careful());

        Assert.That((await f.Leases.GetAsync(granted.Lease.LeaseId))!.DecidedIntent, Is.SameAs(DecidedIntent.None));
    }

    [Test]
    public async Task A_reload_of_the_same_policy_keeps_leases_granted_on_purpose_and_context()
    {
        var f = With(YamlPolicyEngine.Parse(Policy(purposeMinLength: 20, maxRisk: 3), "p.yaml"));
        var granted = await f.IssueAsync(Careful());

        var offending = await Reevaluator(f).ReevaluateAsync(AsEngine(f), ReloadAction.Revoke);

        Assert.That(offending, Is.Empty, "the lease is judged by the purpose and risk it was granted on");
        Assert.That((await f.Leases.GetAsync(granted.Lease.LeaseId))!.State, Is.EqualTo(LeaseState.Active));
    }

    [TestCase(60, 3, TestName = "A_reload_demanding_a_longer_purpose_than_was_stated_revokes_the_lease")]
    [TestCase(20, 1, TestName = "A_reload_lowering_the_risk_ceiling_below_the_declared_risk_revokes_the_lease")]
    public async Task A_reload_that_no_longer_grants_what_was_asked_revokes(int purposeMinLength, int maxRisk)
    {
        var f = With(YamlPolicyEngine.Parse(Policy(purposeMinLength: 20, maxRisk: 3), "p.yaml"));
        var granted = await f.IssueAsync(Careful());
        Use(f, YamlPolicyEngine.Parse(Policy(purposeMinLength, maxRisk), "p.yaml"));

        var offending = await Reevaluator(f).ReevaluateAsync(AsEngine(f), ReloadAction.Revoke);
        await f.SweepAsync();

        Assert.That(offending, Is.EqualTo(new[] { granted.Lease.LeaseId }));
        Assert.That((await f.Leases.GetAsync(granted.Lease.LeaseId))!.State, Is.EqualTo(LeaseState.Revoked));
    }

    [Test]
    public async Task A_lease_recorded_before_leases_kept_their_intent_is_judged_with_none_as_before()
    {
        var f = With(YamlPolicyEngine.Parse(Policy(purposeMinLength: 20, maxRisk: 3), "p.yaml"));
        var granted = await f.IssueAsync(Careful());
        var old = granted.Lease with { LeaseId = LeaseIds.New(), DecidedIntent = DecidedIntent.None };
        await f.Leases.PutAsync(old);

        var offending = await Reevaluator(f).ReevaluateAsync(AsEngine(f), ReloadAction.Flag);

        Assert.That(offending, Is.EqualTo(new[] { old.LeaseId }), "no purpose and no context: the rule cannot be met, as before");
    }

    [Test]
    public async Task Renewal_under_a_rule_that_reads_purpose_and_context_is_granted()
    {
        var f = With(YamlPolicyEngine.Parse(Policy(purposeMinLength: 20, maxRisk: 3), "p.yaml"));
        var granted = await f.IssueAsync(Careful());
        f.Time.Advance(TimeSpan.FromMinutes(1));

        var renewed = await f.RenewCredential.HandleAsync(f.Token(), granted.Lease.LeaseId, TimeSpan.FromMinutes(5));

        Assert.That(renewed.Lease.ExpiresAt, Is.EqualTo(f.Time.GetUtcNow() + TimeSpan.FromMinutes(5)));
        Assert.That(renewed.Lease.DecidedIntent.Purpose, Is.EqualTo(Purpose), "renewal keeps what was decided");
    }

    [Test]
    public async Task Renewal_is_refused_once_the_declared_context_no_longer_meets_the_rule()
    {
        var f = With(YamlPolicyEngine.Parse(Policy(purposeMinLength: 20, maxRisk: 3), "p.yaml"));
        var granted = await f.IssueAsync(Careful());
        Use(f, YamlPolicyEngine.Parse(Policy(purposeMinLength: 20, maxRisk: 1), "p.yaml"));

        var ex = Assert.ThrowsAsync<BrokerException>(() => f.RenewCredential.HandleAsync(f.Token(), granted.Lease.LeaseId, TimeSpan.FromMinutes(5)));

        Assert.That((ex!.Failure, ex.Reason), Is.EqualTo((BrokerFailure.PermissionDenied, Reasons.PolicyDenied)));
    }
}
