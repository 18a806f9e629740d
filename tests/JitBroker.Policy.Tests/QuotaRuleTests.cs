using JitBroker.Core;
using static JitBroker.Policy.Tests.PolicyDecisionTests;
using static JitBroker.Policy.Tests.TestData;

namespace JitBroker.Policy.Tests;

/// <summary>A rule's <c>quota</c> block: read, validated, and carried on the decisions the rule makes.</summary>
public sealed class QuotaRuleTests
{
    [Test]
    public void A_rule_s_quota_rides_on_its_decisions()
    {
        var engine = Engine(Rule("""
            quota:
                  rate_per_second: 0.5
                  burst: 3
                  max_active_leases_per_agent: 10
                  max_active_leases_per_task: 2
                  max_pending_approvals_per_agent: 4
                  max_approval_waits_per_agent: 1
            """));

        var decision = engine.Decide(Agent(SupportBot), Request("x.read", "aud"));

        Assert.That(decision.Effect, Is.EqualTo(DecisionEffect.Allow));
        Assert.That(decision.Quota, Is.EqualTo(new QuotaLimits
        {
            RatePerSecond = 0.5, Burst = 3, MaxActiveLeasesPerAgent = 10, MaxActiveLeasesPerTask = 2,
            MaxPendingApprovalsPerAgent = 4, MaxApprovalWaitsPerAgent = 1,
        }));
    }

    [Test]
    public void A_rate_without_a_burst_allows_one_second_s_worth()
    {
        var decision = Engine(Rule("quota: { rate_per_second: 2.5 }")).Decide(Agent(SupportBot), Request("x.read", "aud"));

        Assert.That((decision.Quota?.RatePerSecond, decision.Quota?.Burst), Is.EqualTo(((double?)2.5, (int?)3)));
    }

    [Test]
    public void A_rule_without_a_quota_block_adds_no_limits()
    {
        var decision = Engine(Rule("")).Decide(Agent(SupportBot), Request("x.read", "aud"));

        Assert.That(decision.Quota, Is.Null);
    }

    [TestCase("quota: { burst: 5 }", "burst needs rate_per_second")]
    [TestCase("quota: { rate_per_second: 0 }", "rate_per_second must be above 0")]
    [TestCase("quota: { rate_per_second: -1 }", "rate_per_second must be above 0")]
    [TestCase("quota: { max_active_leases_per_agent: 0 }", "must be a whole number from 1")]
    [TestCase("quota: { max_active_leases_per_agent: 2, max_active_leases_per_task: 3 }", "cannot exceed max_active_leases_per_agent")]
    [TestCase("quota: { max_leases: 3 }", "max_leases")]
    [TestCase("quota: {}", "must set at least one")]
    public void Nonsense_quotas_fail_the_load(string line, string problem) =>
        Assert.That(() => Engine(Rule(line)), Throws.TypeOf<PolicyLoadException>().With.Property(nameof(PolicyLoadException.Problem)).Contains(problem));

    [Test]
    public void A_deny_rule_cannot_carry_a_quota() =>
        Assert.That(() => Engine("""
              - id: no
                effect: deny
                principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/**"] }
                actions: ["x.read"]
                quota: { max_active_leases_per_agent: 1 }
            """), Throws.TypeOf<PolicyLoadException>().With.Property(nameof(PolicyLoadException.Problem)).Contains("'quota' applies only to allow rules"));

    private static string Rule(string extra) => $$"""
          - id: r
            effect: allow
            principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/**"] }
            actions: ["x.read"]
            {{extra}}
            credential: { audiences: [aud], max_ttl: 1m }
        """;
}
