using JitBroker.Core;
using static JitBroker.Policy.Tests.PolicyDecisionTests;
using static JitBroker.Policy.Tests.TestData;

namespace JitBroker.Policy.Tests;

/// <summary>The embedded demo's policy (src/JitBroker.Server/policies/sample.yaml) decides as documented.</summary>
public sealed class SamplePolicyTests
{
    private static readonly string SamplePath = Path.Combine(TestContext.CurrentContext.TestDirectory, "policies", "sample.yaml");

    private YamlPolicyEngine _sample = null!;

    [OneTimeSetUp]
    public void LoadSample() => _sample = YamlPolicyEngine.LoadFile(SamplePath);

    [Test]
    public void Loads_three_rules_from_the_file()
    {
        Assert.That(_sample.RuleCount, Is.EqualTo(3));
        Assert.That(_sample.SourceName, Is.EqualTo(SamplePath));
    }

    [TestCase("tickets.create")]
    [TestCase("tickets.read")]
    public void Support_bot_works_tickets_with_its_tools(string action)
    {
        var decision = _sample.Decide(Agent(SupportBot),
            Request(action, TicketsAudience, tools: ["zendesk", "crm"], resources: ["tickets/4711"], ttl: TimeSpan.FromHours(1)));

        Assert.That(decision.Effect, Is.EqualTo(DecisionEffect.Allow), decision.Reason);
        Assert.That(decision.RuleIds, Is.EqualTo(new[] { "support-bot-tickets" }));
        Assert.That(decision.Grant!.CredentialKind, Is.EqualTo("jwt"));
        Assert.That(decision.Grant.Scope.Audience, Is.EqualTo(TicketsAudience));
        Assert.That(decision.Grant.Scope.Action, Is.EqualTo(action));
        Assert.That(decision.Grant.Scope.Tools, Is.EqualTo(new[] { "zendesk", "crm" }));
        Assert.That(decision.Grant.Scope.Resources, Is.EqualTo(new[] { "tickets/4711" }));
        Assert.That(decision.Grant.Ttl, Is.EqualTo(TimeSpan.FromMinutes(10)));
    }

    [Test]
    public void Support_bot_gets_no_extra_tools_or_nested_resources()
    {
        var decision = _sample.Decide(Agent(SupportBot),
            Request("tickets.read", TicketsAudience, tools: ["zendesk", "shell"], resources: ["tickets/1", "tickets/1/internal-notes"]));

        Assert.That(decision.Grant!.Scope.Tools, Is.EqualTo(new[] { "zendesk" }));
        Assert.That(decision.Grant.Scope.Resources, Is.EqualTo(new[] { "tickets/1" }));
        Assert.That(decision.Reason, Is.EqualTo(
            "allowed by rule support-bot-tickets; not granted: tools 'shell'; resources 'tickets/1/internal-notes'"));
    }

    [Test]
    public void Support_bot_may_not_update_tickets_or_use_another_audience()
    {
        Assert.That(_sample.Decide(Agent(SupportBot), Request("tickets.update", TicketsAudience)).Effect, Is.EqualTo(DecisionEffect.Deny));
        Assert.That(_sample.Decide(Agent(SupportBot), Request("tickets.read", ReportsAudience)).Effect, Is.EqualTo(DecisionEffect.Deny));
    }

    [TestCase(SupportBot, "tickets.delete", TicketsAudience)]
    [TestCase(ReportingBot, "reports.delete", ReportsAudience)]
    [TestCase("spiffe://dev.jitbroker.local/ci/deploy/runner", "prod.delete", "https://anything.example")]
    public void Nobody_in_the_dev_trust_domain_deletes(string agent, string action, string audience) =>
        AssertDenied(_sample.Decide(Agent(agent), Request(action, audience)), "Deleting data needs a human operator.", "no-deletes-in-dev");

    [Test]
    public void Reporting_bot_reads_reports_for_five_minutes_at_most()
    {
        var unset = _sample.Decide(Agent(ReportingBot), Request("reports.read", ReportsAudience));
        var shorter = _sample.Decide(Agent(ReportingBot), Request("reports.read", ReportsAudience, ttl: TimeSpan.FromMinutes(2)));

        Assert.That(unset.Effect, Is.EqualTo(DecisionEffect.Allow), unset.Reason);
        Assert.That(unset.RuleIds, Is.EqualTo(new[] { "reporting-bot-reports" }));
        Assert.That(unset.Grant!.Scope.Audience, Is.EqualTo(ReportsAudience));
        Assert.That(unset.Grant.Ttl, Is.EqualTo(TimeSpan.FromMinutes(5)));
        Assert.That(shorter.Grant!.Ttl, Is.EqualTo(TimeSpan.FromMinutes(2)));
    }

    [Test]
    public void Bots_cannot_use_each_others_rules()
    {
        Assert.That(_sample.Decide(Agent(ReportingBot), Request("tickets.read", TicketsAudience)).Effect, Is.EqualTo(DecisionEffect.Deny));
        Assert.That(_sample.Decide(Agent(SupportBot), Request("reports.read", ReportsAudience)).Effect, Is.EqualTo(DecisionEffect.Deny));
    }

    [Test]
    public void Lookalike_support_agent_is_not_the_support_bot() =>
        Assert.That(_sample.Decide(Agent("spiffe://dev.jitbroker.local/agents/support-bot-2"), Request("tickets.read", TicketsAudience)).Effect,
            Is.EqualTo(DecisionEffect.Deny));

    [Test]
    public void Agent_from_another_trust_domain_is_denied() =>
        Assert.That(_sample.Decide(Agent("spiffe://prod.example/agents/support-bot"), Request("tickets.read", TicketsAudience)).Effect,
            Is.EqualTo(DecisionEffect.Deny));
}
