using JitBroker.Core;
using static JitBroker.Policy.Tests.PolicyDirectory;

namespace JitBroker.Policy.Tests;

/// <summary>The YAML policy test runner reports each case, finds every kind of mismatch, and refuses malformed tests.</summary>
public sealed class PolicyTestRunnerTests
{
    private PolicyDirectory _dir = null!;
    private YamlPolicyEngine _policy = null!;

    [SetUp]
    public void Create()
    {
        _dir = new PolicyDirectory();
        _dir.Write("policy.yaml", Document(AllowRule("r", ttl: "5m"), """
              - id: tools
                effect: allow
                principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/**"] }
                actions: ["t.read"]
                tools: [zendesk]
                credential: { audiences: [aud], scopes: [a], max_ttl: 1m }
            """));
        _policy = YamlPolicyEngine.LoadDirectory(_dir.Path);
    }

    [TearDown]
    public void Remove() => _dir.Dispose();

    private const string Agent = "spiffe://dev.jitbroker.local/agents/a";

    [Test]
    public void Passing_and_failing_cases_are_reported_with_every_mismatch()
    {
        var file = _dir.Write("tests/cases.yaml", $$"""
            cases:
              - name: passes
                request: { agent: "{{Agent}}", action: x.read, target: aud, ttl: 1h }
                expect: { effect: allow, rule_ids: [r], ttl: 5m, tools: [], reason: allowed by rule r }
              - name: fails on everything
                request: { agent: "{{Agent}}", action: t.read, target: aud, tools: [zendesk, jira] }
                expect:
                  effect: deny
                  rule_ids: [other]
                  tools: [jira]
                  resources: [x]
                  ttl: 2m
                  reason_contains: nope
                  issuer_parameters: { scopes: b }
                  approvers: ["spiffe://corp/h/*"]
                  approval_timeout: 5m
            """);

        var report = PolicyTestRunner.Run(_policy, PolicyTestRunner.DefaultTestsPath(_dir.Path));

        Assert.That(report.Passed, Is.EqualTo(1));
        Assert.That(report.Failed, Is.EqualTo(1));
        Assert.That(report.AllPassed, Is.False);
        var failed = report.Results[1];
        Assert.That((failed.Source, failed.Line, failed.Name), Is.EqualTo((file, 5, "fails on everything")));
        Assert.That(failed.Mismatches, Is.EqualTo(new[]
        {
            "effect: expected deny, got allow (allowed by rule tools; not granted: tools 'jira')",
            "rule_ids: expected [other], got [tools]",
            "tools: expected [jira], got [zendesk]",
            "resources: expected [x], got []",
            "ttl: expected 2m, got 1m",
            "reason: expected to contain 'nope', got 'allowed by rule tools; not granted: tools 'jira''",
            "issuer_parameters: expected {scopes: b}, got {scopes: a}",
            "approvers: expected [spiffe://corp/h/*], got nothing",
            "approval_timeout: expected 5m, got no approval",
        }));
    }

    [Test]
    public void Fixed_instant_pins_time_conditions()
    {
        _dir.Write("policy.yaml", "version: 1\nrules:\n  - id: office\n    effect: allow\n    principals: { trust_domains: [dev.jitbroker.local] }\n" +
            "    actions: [x.read]\n    conditions: { Weekday: { days: [mon], time_zone: UTC } }\n    credential: { audiences: [aud], max_ttl: 1m }\n");
        var file = _dir.Write("tests/time.yaml", $$"""
            cases:
              - name: monday
                at: "2026-11-23T10:00:00Z"
                request: { agent: "{{Agent}}", action: x.read, target: aud }
                expect: { effect: allow, rule_ids: [office] }
              - name: tuesday
                at: "2026-11-24T00:30:00+01:00"
                request: { agent: "{{Agent}}", action: x.read, target: aud }
                expect: { effect: allow, rule_ids: [office] }
            """);

        var report = PolicyTestRunner.Run(YamlPolicyEngine.LoadDirectory(_dir.Path), file);

        Assert.That(report.Results.Select(r => r.Passed), Is.EqualTo(new[] { true, true }), "00:30 in UTC+1 is still Monday in UTC");
    }

    [Test]
    public void Oidc_agent_gets_issuer_trust_domain_and_oidc_method_by_default()
    {
        var probe = new PolicyProbe { Agent = "https://issuer.example#repo:acme", Action = "x", Target = "t" };

        var identity = probe.ToIdentity();

        Assert.That((identity.TrustDomain, identity.Method), Is.EqualTo(("https://issuer.example", "oidc")));
        Assert.That(() => new PolicyProbe { Agent = "bob", Action = "x", Target = "t" }.ToIdentity(), Throws.ArgumentException);
    }

    [TestCase("cases: []", 1, 8, "cases must be a non-empty list")]
    [TestCase("cases:\n  - name: a\n    request: { agent: x, action: y, target: z }\n    expect: { effect: allow }", 4, 13, "missing required key 'rule_ids'")]
    [TestCase("cases:\n  - name: a\n    request: { agent: x, action: y, target: z, tool: [a] }\n    expect: { effect: allow, rule_ids: [] }", 3, 48, "unknown key 'tool'")]
    [TestCase("cases:\n  - name: a\n    request: { agent: x, action: y, target: z }\n    expect: { effect: permit, rule_ids: [] }", 4, 23, "must be allow, deny or needs_approval")]
    [TestCase("cases:\n  - name: a\n    at: \"2026-11-23T10:00:00\"\n    request: { agent: x, action: y, target: z }\n    expect: { effect: allow, rule_ids: [] }", 3, 9, "must be an ISO 8601 time with an offset")]
    [TestCase("cases:\n  - name: a\n    request: { agent: x, action: y, target: z, ttl: 5 }\n    expect: { effect: allow, rule_ids: [] }", 3, 53, "is not a duration")]
    public void Malformed_test_file_fails_with_its_position(string yaml, int line, int column, string problem)
    {
        var file = _dir.Write("tests/bad.yaml", yaml + "\n");

        var ex = Assert.Throws<PolicyLoadException>(() => PolicyTestRunner.Run(_policy, file))!;

        Assert.That(ex.SourceName, Is.EqualTo(file));
        Assert.That(ex.Problem, Does.Contain(problem));
        Assert.That((ex.Line, ex.Column), Is.EqualTo((line, column)), ex.Message);
    }

    [Test]
    public void No_tests_is_an_error_not_a_pass()
    {
        Directory.CreateDirectory(Path.Combine(_dir.Path, "tests"));

        Assert.That(() => PolicyTestRunner.Run(_policy, Path.Combine(_dir.Path, "tests")),
            Throws.TypeOf<PolicyLoadException>().With.Message.Contains("holds no test files"));
        Assert.That(new PolicyTestReport([]).AllPassed, Is.False);
    }

    [Test]
    public void Unbuildable_identity_fails_the_case_not_the_run()
    {
        var file = _dir.Write("tests/id.yaml", "cases:\n  - name: a\n    request: { agent: bob, action: x.read, target: aud }\n    expect: { effect: deny, rule_ids: [] }\n");

        var result = PolicyTestRunner.Run(_policy, file).Results.Single();

        Assert.That(result.Passed, Is.False);
        Assert.That(result.Decision, Is.Null);
        Assert.That(result.Mismatches.Single(), Does.Contain("give its trust domain"));
    }

    [Test]
    public void Effect_names_round_trip() =>
        Assert.That(new[] { DecisionEffect.Allow, DecisionEffect.Deny, DecisionEffect.NeedsApproval }.Select(PolicyTestRunner.Name),
            Is.EqualTo(new[] { "allow", "deny", "needs_approval" }));
}
