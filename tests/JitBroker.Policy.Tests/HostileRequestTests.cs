using JitBroker.Core;
using static JitBroker.Policy.Tests.PolicyDecisionTests;
using static JitBroker.Policy.Tests.TestData;

namespace JitBroker.Policy.Tests;

/// <summary>An agent trying to get more than its rule allows, through the new features.</summary>
public sealed class HostileRequestTests
{
    private static readonly YamlPolicyEngine Policy = Engine("""
          - id: refunds
            effect: allow
            principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/agents/*"] }
            actions: ["payments.refund"]
            tools: ["stripe"]
            resources: ["refunds/*"]
            conditions:
              StringEquals: { identity.k8s.namespace: payments }
              NumericLessThanEquals: { context.amount: 100 }
            approval: { approvers: ["spiffe://corp.example/humans/*"], timeout: 10m }
            credential: { audiences: [pay], max_ttl: 5m }
        """);

    private static WorkloadIdentity InPayments => Agent(SupportBot) with { Facts = new Dictionary<string, string> { ["k8s.namespace"] = "payments" } };

    private static Dictionary<string, string> Amount(string amount) => new() { ["amount"] = amount };

    [TestCase(6 * 60)]
    [TestCase(24 * 3600)]
    [TestCase(int.MaxValue)]
    public void Ttl_beyond_the_rule_is_cut_to_the_rule(int seconds)
    {
        var decision = Policy.Decide(InPayments, Request("payments.refund", "pay", tools: ["stripe"], ttl: TimeSpan.FromSeconds(seconds), context: Amount("5")));

        Assert.That(decision.Effect, Is.EqualTo(DecisionEffect.NeedsApproval));
        Assert.That(decision.Grant!.Ttl, Is.EqualTo(TimeSpan.FromMinutes(5)));
    }

    [Test]
    public void Widening_tools_and_resources_are_not_part_of_what_the_approver_sees()
    {
        var decision = Policy.Decide(InPayments, Request("payments.refund", "pay",
            tools: ["stripe", "*", "stripe-admin"], resources: ["refunds/1", "refunds/**", "refunds/1/../../payouts/9"], context: Amount("5")));

        Assert.That(decision.Grant!.Scope.Tools, Is.EqualTo(new[] { "stripe" }));
        Assert.That(decision.Grant.Scope.Resources, Is.EqualTo(new[] { "refunds/1" }));
    }

    [TestCase("pay*", "jwt")]
    [TestCase("pay ", "jwt")]
    [TestCase("pay", "*")]
    [TestCase("pay", "vault-token")]
    public void Target_and_kind_are_exact(string target, string kind) =>
        Assert.That(Policy.Decide(InPayments, Request("payments.refund", target, kind: kind, context: Amount("5"))).Effect, Is.EqualTo(DecisionEffect.Deny));

    [Test]
    public void Declared_context_cannot_stand_in_for_an_attested_fact()
    {
        var context = new Dictionary<string, string> { ["amount"] = "5", ["k8s.namespace"] = "payments", ["identity.k8s.namespace"] = "payments" };

        Assert.That(Policy.Decide(Agent(SupportBot), Request("payments.refund", "pay", context: context)).Effect, Is.EqualTo(DecisionEffect.Deny));
    }

    [TestCase("Amount", "5")]
    [TestCase("amount", "-0")]
    [TestCase("amount", "100")]
    public void Context_keys_are_case_sensitive_and_limits_inclusive(string key, string value)
    {
        var decision = Policy.Decide(InPayments, Request("payments.refund", "pay", context: new Dictionary<string, string> { [key] = value }));

        Assert.That(decision.Effect, Is.EqualTo(key == "amount" ? DecisionEffect.NeedsApproval : DecisionEffect.Deny));
    }

    [TestCase("100.0000000001")]
    [TestCase("1000")]
    [TestCase("+5")]
    [TestCase("5 ")]
    [TestCase("５")]
    public void Amount_over_the_limit_or_not_a_plain_number_is_refused(string amount) =>
        Assert.That(Policy.Decide(InPayments, Request("payments.refund", "pay", context: Amount(amount))).Effect, Is.EqualTo(DecisionEffect.Deny));

    [Test]
    public void Approval_cannot_be_skipped_by_asking_for_a_different_kind_or_less()
    {
        var small = Policy.Decide(InPayments, Request("payments.refund", "pay", ttl: TimeSpan.FromSeconds(1), context: Amount("0.01")));

        Assert.That(small.Effect, Is.EqualTo(DecisionEffect.NeedsApproval));
        Assert.That(small.Approval!.Approvers, Is.EqualTo(new[] { "spiffe://corp.example/humans/*" }));
    }
}
