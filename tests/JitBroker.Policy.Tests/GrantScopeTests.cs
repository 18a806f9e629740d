using JitBroker.Core;
using static JitBroker.Policy.Tests.PolicyDecisionTests;
using static JitBroker.Policy.Tests.TestData;

namespace JitBroker.Policy.Tests;

/// <summary>Granted scope is requested ∩ allowed: never more, never "everything", never a pattern.</summary>
public sealed class GrantScopeTests
{
    private static readonly YamlPolicyEngine Policy = Engine("""
          - id: support
            effect: allow
            principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/agents/support-bot"] }
            actions: ["tickets.read"]
            tools: ["zendesk", "crm-*"]
            resources: ["tickets/*", "kb/**"]
            credential: { audiences: ["https://tickets.internal.example"], max_ttl: 10m }
          - id: no-scope
            effect: allow
            principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/agents/reporting-bot"] }
            actions: ["reports.read"]
            credential: { audiences: ["https://reports.internal.example"], max_ttl: 5m }
        """);

    [Test]
    public void Requested_subset_is_granted_exactly_in_request_order()
    {
        var grant = Allowed(tools: ["crm-sales", "zendesk"], resources: ["kb/a/b", "tickets/42"]);

        Assert.That(grant.Scope.Tools, Is.EqualTo(new[] { "crm-sales", "zendesk" }));
        Assert.That(grant.Scope.Resources, Is.EqualTo(new[] { "kb/a/b", "tickets/42" }));
    }

    [Test]
    public void Requesting_nothing_grants_nothing()
    {
        var decision = Decide(tools: [], resources: []);

        Assert.That(decision.Effect, Is.EqualTo(DecisionEffect.Allow));
        Assert.That(decision.Grant!.Scope.Tools, Is.Empty);
        Assert.That(decision.Grant.Scope.Resources, Is.Empty);
        Assert.That(decision.Reason, Is.EqualTo("allowed by rule support"));
    }

    [Test]
    public void Values_outside_the_rule_are_dropped_and_named()
    {
        var decision = Decide(tools: ["zendesk", "jira"], resources: ["tickets/1", "tickets/1/attachments", "billing/7"]);

        Assert.That(decision.Effect, Is.EqualTo(DecisionEffect.Allow));
        Assert.That(decision.Grant!.Scope.Tools, Is.EqualTo(new[] { "zendesk" }));
        Assert.That(decision.Grant.Scope.Resources, Is.EqualTo(new[] { "tickets/1" }));
        Assert.That(decision.Reason, Is.EqualTo(
            "allowed by rule support; not granted: tools 'jira'; resources 'tickets/1/attachments', 'billing/7'"));
    }

    [Test]
    public void Only_resources_dropped_reads_well()
    {
        var decision = Decide(resources: ["tickets/1", "billing/7"]);

        Assert.That(decision.Reason, Is.EqualTo("allowed by rule support; not granted: resources 'billing/7'"));
    }

    [Test]
    public void None_of_the_requested_tools_allowed_is_a_deny() =>
        AssertDenied(Decide(tools: ["jira", "github"], resources: ["tickets/1"]),
            "rule support grants none of the requested tools ('jira', 'github')", "support");

    [Test]
    public void None_of_the_requested_resources_allowed_is_a_deny() =>
        AssertDenied(Decide(tools: ["zendesk"], resources: ["billing/7"]),
            "rule support grants none of the requested resources ('billing/7')", "support");

    [Test]
    public void Nothing_allowed_in_both_names_both() =>
        AssertDenied(Decide(tools: ["jira"], resources: ["billing/7"]),
            "rule support grants none of the requested tools ('jira') and none of the requested resources ('billing/7')", "support");

    [Test]
    public void Rule_without_tools_or_resources_grants_none()
    {
        var tools = Policy.Decide(Agent(ReportingBot), Request("reports.read", ReportsAudience, tools: ["metabase"]));
        var resources = Policy.Decide(Agent(ReportingBot), Request("reports.read", ReportsAudience, resources: ["reports/q3"]));

        AssertDenied(tools, "rule no-scope grants none of the requested tools ('metabase')", "no-scope");
        AssertDenied(resources, "rule no-scope grants none of the requested resources ('reports/q3')", "no-scope");
    }

    // Each of these matches an allowed pattern character for character, but granting it would hand a
    // tool that reads grants as patterns (or normalises paths) more than the rule allows.
    [TestCase("tickets/*")]
    [TestCase("tickets/**")]
    [TestCase("tickets/?")]
    [TestCase("kb/**")]
    [TestCase("kb/../billing/7")]
    [TestCase("kb/./x")]
    [TestCase("tickets/..")]
    public void Widening_resource_is_never_granted(string widening)
    {
        var mixed = Decide(resources: ["tickets/1", widening]);
        var alone = Decide(resources: [widening]);

        Assert.That(mixed.Grant!.Scope.Resources, Is.EqualTo(new[] { "tickets/1" }));
        Assert.That(mixed.Reason, Does.Contain($"not granted: resources '{widening}'"));
        Assert.That(alone.Effect, Is.EqualTo(DecisionEffect.Deny));
    }

    [TestCase("crm-*")]
    [TestCase("crm-?")]
    [TestCase("*")]
    public void Widening_tool_is_never_granted(string widening)
    {
        var mixed = Decide(tools: ["crm-sales", widening]);

        Assert.That(mixed.Grant!.Scope.Tools, Is.EqualTo(new[] { "crm-sales" }));
        Assert.That(Decide(tools: [widening]).Effect, Is.EqualTo(DecisionEffect.Deny));
    }

    [Test]
    public void Dots_inside_names_are_fine() =>
        Assert.That(Allowed(resources: ["kb/a.b/..c"]).Scope.Resources, Is.EqualTo(new[] { "kb/a.b/..c" }));

    [Test]
    public void Repeated_values_are_granted_once() =>
        Assert.That(Allowed(tools: ["zendesk", "zendesk", "crm-a", "zendesk"]).Scope.Tools, Is.EqualTo(new[] { "zendesk", "crm-a" }));

    [Test]
    public void Long_refusal_lists_are_summarised()
    {
        string[] refused = ["a1", "a2", "a3", "a4", "a5", "a6", "a7"];

        AssertDenied(Decide(tools: refused),
            "rule support grants none of the requested tools ('a1', 'a2', 'a3', 'a4', 'a5' and 2 more)", "support");
    }

    private static PolicyDecision Decide(string[]? tools = null, string[]? resources = null) =>
        Policy.Decide(Agent(SupportBot), Request("tickets.read", TicketsAudience, tools, resources));

    private static Grant Allowed(string[]? tools = null, string[]? resources = null)
    {
        var decision = Decide(tools, resources);
        Assert.That(decision.Effect, Is.EqualTo(DecisionEffect.Allow), decision.Reason);
        return decision.Grant!;
    }
}
