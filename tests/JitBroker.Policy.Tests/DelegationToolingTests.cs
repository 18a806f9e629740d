using JitBroker.Core;
using static JitBroker.Policy.Tests.TestData;

namespace JitBroker.Policy.Tests;

/// <summary>Delegation cases in YAML policy tests, and delegation explanations.</summary>
public sealed class DelegationToolingTests
{
    private const string Planner = "spiffe://corp/agents/planner";

    private PolicyDirectory _dir = null!;
    private YamlPolicyEngine _policy = null!;

    [SetUp]
    public void Create()
    {
        _dir = new PolicyDirectory();
        _dir.Write("policy.yaml", PolicyDirectory.Document(PolicyDirectory.AllowRule("r")) + """
            delegations:
              - id: to-workers
                from: { spiffe_ids: ["spiffe://corp/agents/planner"] }
                to: ["spiffe://corp/agents/worker-*"]
                actions: ["tickets.*"]
                max_depth: 2
              - id: deep-reads
                from: { trust_domains: [corp] }
                to: ["spiffe://corp/agents/worker-*"]
                actions: ["tickets.read"]
                max_depth: 4
            """);
        _policy = YamlPolicyEngine.LoadDirectory(_dir.Path);
    }

    [TearDown]
    public void Remove() => _dir.Dispose();

    [Test]
    public void Delegation_cases_pass_and_fail_with_every_mismatch()
    {
        var file = _dir.Write("tests/delegation.yaml", $$"""
            cases:
              - name: passes
                delegation: { planner: "{{Planner}}", worker: spiffe://corp/agents/worker-1, action: tickets.read }
                expect:
                  effect: allow
                  rule_ids: [to-workers, deep-reads]
                  max_depth: 4
                  reason: delegation allowed by rules to-workers, deep-reads (max depth 4)
              - name: fails on everything
                delegation: { planner: "{{Planner}}", worker: spiffe://corp/agents/worker-1, action: tickets.update }
                expect: { effect: deny, rule_ids: [deep-reads], max_depth: 4, reason_contains: nope }
              - name: request cases still run next to delegation cases
                request: { agent: "spiffe://dev.jitbroker.local/agents/a", action: x.read, target: aud }
                expect: { effect: allow, rule_ids: [r] }
            """);

        var report = PolicyTestRunner.Run(_policy, PolicyTestRunner.DefaultTestsPath(_dir.Path));

        Assert.That(report.Results.Select(r => r.Passed), Is.EqualTo(new[] { true, false, true }));
        var failed = report.Results[1];
        Assert.That((failed.Source, failed.Line, failed.Name), Is.EqualTo((file, 9, "fails on everything")));
        Assert.That(failed.Mismatches, Is.EqualTo(new[]
        {
            "effect: expected deny, got allow (delegation allowed by rule to-workers (max depth 2))",
            "rule_ids: expected [deep-reads], got [to-workers]",
            "max_depth: expected 4, got 2",
            "reason: expected to contain 'nope', got 'delegation allowed by rule to-workers (max depth 2)'",
        }));
        Assert.That(failed.Decision, Is.Null);
        Assert.That(failed.Delegation!.RuleIds, Is.EqualTo(new[] { "to-workers" }));
        Assert.That((report.Results[2].Delegation, report.Results[2].Decision?.Effect), Is.EqualTo(((DelegationDecision?)null, DecisionEffect.Allow)));
    }

    [Test]
    public void Planner_facts_trust_domain_and_method_are_passed_through()
    {
        var file = _dir.Write("tests/oidc.yaml", """
            cases:
              - name: an oidc planner in trust domain corp matches trust_domains
                delegation:
                  planner: "https://issuer.example#job"
                  trust_domain: corp
                  method: oidc
                  facts: { iss: "https://issuer.example" }
                  worker: spiffe://corp/agents/worker-1
                  action: tickets.read
                expect: { effect: allow, rule_ids: [deep-reads], max_depth: 4 }
              - name: an unbuildable planner fails the case
                delegation: { planner: bob, worker: spiffe://corp/agents/worker-1, action: tickets.read }
                expect: { effect: deny, rule_ids: [] }
            """);

        var results = PolicyTestRunner.Run(_policy, file).Results;

        Assert.That(results[0].Passed, Is.True, string.Join("; ", results[0].Mismatches));
        Assert.That(results[1].Passed, Is.False);
        Assert.That(results[1].Mismatches.Single(), Does.Contain("give its trust domain"));
    }

    private const string Delegation = "delegation: { planner: p, worker: w, action: a }";

    [TestCase("cases:\n  - name: a\n    expect: { effect: allow, rule_ids: [] }", 2, 5, "test case 'a' needs exactly one of 'request' (a credential request) or 'delegation'")]
    [TestCase("cases:\n  - name: a\n    request: { agent: x, action: y, target: z }\n    " + Delegation + "\n    expect: { effect: allow, rule_ids: [] }", 2, 5, "needs exactly one of")]
    [TestCase("cases:\n  - name: a\n    at: \"2026-11-23T10:00:00Z\"\n    " + Delegation + "\n    expect: { effect: allow, rule_ids: [] }", 3, 5, "'at' applies only to request cases")]
    [TestCase("cases:\n  - name: a\n    " + Delegation + "\n    expect: { effect: needs_approval, rule_ids: [] }", 4, 23, "must be allow or deny for a delegation, not 'needs_approval'")]
    [TestCase("cases:\n  - name: a\n    " + Delegation + "\n    expect: { effect: allow, rule_ids: [], ttl: 5m }", 4, 44, "unknown key 'ttl' in test case 'a' expect; expected one of: effect, rule_ids, max_depth, reason, reason_contains")]
    [TestCase("cases:\n  - name: a\n    " + Delegation + "\n    expect: { effect: allow, rule_ids: [], max_depth: 9 }", 4, 55, "max_depth must be a whole number from 0 to 8")]
    [TestCase("cases:\n  - name: a\n    delegation: { planner: p, worker: w }\n    expect: { effect: allow, rule_ids: [] }", 3, 17, "missing required key 'action'")]
    [TestCase("cases:\n  - name: a\n    delegation: { planner: p, workers: w, action: a }\n    expect: { effect: allow, rule_ids: [] }", 3, 31, "unknown key 'workers' in test case 'a' delegation")]
    [TestCase("cases:\n  - name: a\n    request: { agent: x, action: y, target: z }\n    expect: { effect: allow, rule_ids: [], max_depth: 1 }", 4, 44, "unknown key 'max_depth'")]
    public void Malformed_delegation_case_fails_with_its_position(string yaml, int line, int column, string problem)
    {
        var file = _dir.Write("tests/bad.yaml", yaml + "\n");

        var ex = Assert.Throws<PolicyLoadException>(() => PolicyTestRunner.Run(_policy, file))!;

        Assert.That(ex.Problem, Does.Contain(problem));
        Assert.That((ex.Line, ex.Column), Is.EqualTo((line, column)), ex.Message);
    }

    [Test]
    public void Explanation_traces_every_entry_and_shows_the_engine_decision()
    {
        var explanation = PolicyExplainer.ExplainDelegation(_policy, Agent(Planner), "spiffe://corp/agents/worker-1", "tickets.update");

        Assert.That(explanation.Entries.Select(e => (e.RuleId, e.Outcome)), Is.EqualTo(new[]
        {
            ("to-workers", RuleOutcome.Chosen), ("deep-reads", RuleOutcome.NotApplicable),
        }));
        Assert.That(explanation.Entries[1].Steps.Single(), Is.EqualTo("actions: 'tickets.update' matches none of [tickets.read]"));
        Assert.That(explanation.Entries[0].Location, Does.EndWith("policy.yaml:9:5"));
        Assert.That(explanation.Decision.RuleIds, Is.EqualTo(new[] { "to-workers" }));
        Assert.That(explanation.ToText(), Does.Contain("✓ to-workers").And.Contain("decision:  ALLOW [to-workers] max depth 2"));
    }

    [TestCase("spiffe://other/agents/planner", "spiffe://corp/agents/worker-1", "from: the planner does not match from.trust_domains")]
    [TestCase("spiffe://corp/agents/planner", "spiffe://corp/agents/reader", "to: worker 'spiffe://corp/agents/reader' matches none of [spiffe://corp/agents/worker-*]")]
    public void Explanation_says_which_part_does_not_match(string planner, string worker, string step)
    {
        var explanation = PolicyExplainer.ExplainDelegation(_policy, Agent(planner), worker, "tickets.read");

        Assert.That(explanation.Entries[1].Steps.Single(), Is.EqualTo(step));
        Assert.That(explanation.Decision.Allowed, Is.False);
        Assert.That(explanation.ToText(), Does.Contain("decision:  DENY []"));
    }
}
