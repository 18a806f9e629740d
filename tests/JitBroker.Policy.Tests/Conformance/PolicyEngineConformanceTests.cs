using JitBroker.Core;
using JitBroker.Testing;
using static JitBroker.Policy.Tests.TestData;

namespace JitBroker.Policy.Tests.Conformance;

/// <summary>
/// The contract of <see cref="IPolicyEngine"/>, run against every engine: subclass it and return an engine holding
/// the given policy text. Default deny; a deny rule wins; a grant is never wider than the request nor longer-lived
/// than asked or allowed; every decision explains itself; no request, however odd, makes an engine throw; decisions
/// are safe to make concurrently.
/// </summary>
public abstract class PolicyEngineConformanceTests
{
    protected const string Tickets = "https://tickets.example";
    protected const string SupportBot = "spiffe://example.org/agents/support-bot";

    protected const string PolicyText = """
        version: 1
        defaults:
          max_ttl: 15m
        rules:
          - id: support-tickets
            effect: allow
            principals: { spiffe_ids: ["spiffe://example.org/agents/support-*"] }
            actions: ["tickets.create", "tickets.read"]
            tools: ["zendesk", "crm"]
            resources: ["tickets/*"]
            credential: { kind: jwt, audiences: ["https://tickets.example"], max_ttl: 10m }
          - id: refunds
            effect: allow
            principals: { spiffe_ids: ["spiffe://example.org/agents/support-*"] }
            actions: ["payments.refund"]
            approval: { approvers: ["spiffe://example.org/humans/*"], timeout: 15m }
            credential: { kind: jwt, audiences: ["https://tickets.example"], max_ttl: 5m }
          - id: eu-freeze
            effect: deny
            principals: { trust_domains: [example.org] }
            actions: ["*.delete", "tickets.read"]
            conditions:
              StringEquals: { context.region: eu }
            reason: Frozen in this region.
        """;

    private IPolicyEngine? _engine;

    protected IPolicyEngine Engine => _engine ?? throw new InvalidOperationException("SetUp did not run.");

    /// <summary>An engine holding <paramref name="yaml"/>, its time conditions on <paramref name="time"/>.</summary>
    protected abstract IPolicyEngine Create(string yaml, TimeProvider time);

    /// <summary>Releases what <see cref="Create"/> made.</summary>
    protected virtual void Destroy()
    {
    }

    [SetUp]
    public void CreateEngine() => _engine = Create(PolicyText, TestClock.Create());

    [TearDown]
    public void DestroyEngine()
    {
        (_engine as IDisposable)?.Dispose();
        Destroy();
    }

    private static CredentialRequest Ask(string action = "tickets.create", string[]? tools = null, string[]? resources = null, TimeSpan? ttl = null,
        string target = Tickets, Dictionary<string, string>? context = null) =>
        Request(action, target, tools ?? ["zendesk"], resources ?? ["tickets/1"], ttl: ttl, context: context);

    [Test]
    public void What_no_rule_allows_is_denied_with_a_reason()
    {
        var decision = Engine.Decide(Agent("spiffe://example.org/agents/stranger"), Ask());

        Assert.Multiple(() =>
        {
            Assert.That(decision.Effect, Is.EqualTo(DecisionEffect.Deny));
            Assert.That(decision.Grant, Is.Null);
            Assert.That(decision.Reason, Is.Not.Empty);
        });
    }

    [Test]
    public void An_allowed_request_gets_a_grant_no_wider_than_asked_and_allowed_and_names_its_rule()
    {
        var decision = Engine.Decide(Agent(SupportBot), Ask(tools: ["zendesk", "github"], resources: ["tickets/1", "repos/2"], ttl: TimeSpan.FromHours(1)));

        Assert.That(decision.Effect, Is.EqualTo(DecisionEffect.Allow), decision.Reason);
        var grant = decision.Grant!;
        Assert.Multiple(() =>
        {
            Assert.That(decision.RuleIds, Is.EqualTo(new[] { "support-tickets" }));
            Assert.That(decision.Reason, Is.Not.Empty);
            Assert.That(grant.CredentialKind, Is.EqualTo("jwt"));
            Assert.That(grant.Scope.Audience, Is.EqualTo(Tickets));
            Assert.That(grant.Scope.Action, Is.EqualTo("tickets.create"));
            Assert.That(grant.Scope.Tools, Is.EqualTo(new[] { "zendesk" }), "requested ∩ allowed");
            Assert.That(grant.Scope.Resources, Is.EqualTo(new[] { "tickets/1" }), "requested ∩ allowed");
            Assert.That(grant.Ttl, Is.EqualTo(TimeSpan.FromMinutes(10)), "the rule's max_ttl caps a longer request");
        });
    }

    [Test]
    public void A_shorter_ttl_asked_is_the_ttl_granted()
    {
        var decision = Engine.Decide(Agent(SupportBot), Ask(ttl: TimeSpan.FromMinutes(2)));

        Assert.That(decision.Grant!.Ttl, Is.EqualTo(TimeSpan.FromMinutes(2)));
    }

    [Test]
    public void Nothing_not_asked_for_is_granted()
    {
        var decision = Engine.Decide(Agent(SupportBot), Ask(tools: [], resources: []));

        Assert.That(decision.Effect, Is.EqualTo(DecisionEffect.Allow), decision.Reason);
        Assert.That(decision.Grant!.Scope.Tools.Concat(decision.Grant.Scope.Resources), Is.Empty);
    }

    [Test]
    public void A_deny_rule_wins_over_an_allow_rule_and_says_why()
    {
        var denied = Engine.Decide(Agent(SupportBot), Ask("tickets.read", context: new() { ["region"] = "eu" }));
        var unsaid = Engine.Decide(Agent(SupportBot), Ask("tickets.read"));
        var allowed = Engine.Decide(Agent(SupportBot), Ask("tickets.read", context: new() { ["region"] = "us" }));

        Assert.Multiple(() =>
        {
            Assert.That(denied.Effect, Is.EqualTo(DecisionEffect.Deny));
            Assert.That(denied.RuleIds, Is.EqualTo(new[] { "eu-freeze" }));
            Assert.That(denied.Reason, Is.EqualTo("Frozen in this region."));
            Assert.That(unsaid.Effect, Is.EqualTo(DecisionEffect.Deny), "a deny cannot be dodged by leaving the value out");
            Assert.That(allowed.Effect, Is.EqualTo(DecisionEffect.Allow), allowed.Reason);
        });
    }

    [Test]
    public void An_approval_gated_rule_needs_approval_and_carries_the_grant_it_would_release()
    {
        var decision = Engine.Decide(Agent(SupportBot), Ask("payments.refund", tools: [], resources: []));

        Assert.Multiple(() =>
        {
            Assert.That(decision.Effect, Is.EqualTo(DecisionEffect.NeedsApproval));
            Assert.That(decision.Approval!.Approvers, Is.EqualTo(new[] { "spiffe://example.org/humans/*" }));
            Assert.That(decision.Approval.Timeout, Is.EqualTo(TimeSpan.FromMinutes(15)));
            Assert.That(decision.Grant!.Ttl, Is.EqualTo(TimeSpan.FromMinutes(5)));
            Assert.That(decision.RuleIds, Is.EqualTo(new[] { "refunds" }));
        });
    }

    [TestCase("*")]
    [TestCase("tickets.*")]
    [TestCase("")]
    [TestCase("tickets..create")]
    public void An_action_that_is_a_pattern_or_empty_is_denied_not_thrown(string action)
    {
        var decision = Engine.Decide(Agent(SupportBot), Ask(action));

        Assert.That(decision.Effect, Is.EqualTo(DecisionEffect.Deny));
        Assert.That(decision.Grant, Is.Null);
    }

    [Test]
    public void Hostile_requests_are_decided_not_thrown()
    {
        var huge = new string('a', 100_000);
        CredentialRequest[] requests =
        [
            Ask(tools: ["*"], resources: ["**"]),
            Ask(resources: ["tickets/../../etc/passwd"]),
            Ask(target: huge),
            Ask(context: new Dictionary<string, string> { ["region"] = huge, [huge] = "eu" }),
            Ask(ttl: TimeSpan.MaxValue),
            Ask(ttl: TimeSpan.FromTicks(-1)),
        ];

        foreach (var request in requests)
        {
            var decision = Engine.Decide(Agent(SupportBot), request);
            Assert.That(decision.Reason, Is.Not.Empty);
            if (decision.Grant is { } grant)
            {
                Assert.That(grant.Scope.Tools, Is.SubsetOf(request.Intent.Tools));
                Assert.That(grant.Scope.Resources, Is.SubsetOf(request.Intent.Resources));
                Assert.That(grant.Ttl, Is.LessThanOrEqualTo(TimeSpan.FromMinutes(10)).And.GreaterThan(TimeSpan.Zero));
            }
        }
    }

    [Test]
    public async Task Concurrent_decisions_agree_with_a_single_one()
    {
        var expected = Engine.Decide(Agent(SupportBot), Ask());

        var decisions = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
            Enumerable.Range(0, 500).Select(_ => Engine.Decide(Agent(SupportBot), Ask())).ToList())));

        Assert.That(decisions.SelectMany(d => d).Select(d => (d.Effect, d.Grant!.Ttl, string.Join(",", d.RuleIds))),
            Is.All.EqualTo((expected.Effect, expected.Grant!.Ttl, string.Join(",", expected.RuleIds))));
    }
}
