using JitBroker.Core;
using static JitBroker.Policy.Tests.PolicyDecisionTests;
using static JitBroker.Policy.Tests.TestData;

namespace JitBroker.Policy.Tests;

/// <summary>Required purpose and step-up approval.</summary>
public sealed class PurposeAndApprovalTests
{
    private const string ApprovalRule = """
          - id: refunds
            effect: allow
            principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/agents/*"] }
            actions: ["payments.refund"]
            tools: ["stripe"]
            resources: ["refunds/*"]
            approval:
              approvers: ["spiffe://corp.example/humans/*", "https://login.corp.example#*"]
              timeout: 15m
            credential: { audiences: [pay], scopes: [refund], max_ttl: 5m }
        """;

    [TestCase("", false)]
    [TestCase("   \t ", false)]
    [TestCase("x", true)]
    public void Require_purpose_demands_non_blank_text(string purpose, bool allowed)
    {
        var engine = Engine(Rule("require_purpose: true"));

        var decision = engine.Decide(Agent(SupportBot), Request("x.read", "aud", purpose: purpose));

        Assert.That(decision.Effect, Is.EqualTo(allowed ? DecisionEffect.Allow : DecisionEffect.Deny));
        if (!allowed)
        {
            AssertDenied(decision, "no rule allows action 'x.read' for audience 'aud' with credential kind 'jwt': a stated purpose is required");
        }
    }

    [Test]
    public void Purpose_min_length_counts_trimmed_characters()
    {
        var engine = Engine(Rule("purpose_min_length: 10"));

        Assert.That(engine.Decide(Agent(SupportBot), Request("x.read", "aud", purpose: "  123456789  ")).Reason,
            Does.EndWith("a stated purpose of at least 10 characters is required"));
        Assert.That(engine.Decide(Agent(SupportBot), Request("x.read", "aud", purpose: "1234567890")).Effect, Is.EqualTo(DecisionEffect.Allow));
    }

    [Test]
    public void A_later_rule_without_the_requirement_still_applies()
    {
        var engine = Engine(Rule("require_purpose: true", id: "strict", ttl: "1m"), Rule("require_purpose: false", id: "lenient", ttl: "2m"));

        Assert.That(engine.Decide(Agent(SupportBot), Request("x.read", "aud", purpose: "")).RuleIds, Is.EqualTo(new[] { "lenient" }));
        Assert.That(engine.Decide(Agent(SupportBot), Request("x.read", "aud", purpose: "why")).RuleIds, Is.EqualTo(new[] { "strict" }));
    }

    [TestCase("require_purpose: yes", "must be true or false")]
    [TestCase("purpose_min_length: 0", "must be a whole number from 1 to 1024")]
    [TestCase("purpose_min_length: 1025", "must be a whole number from 1 to 1024")]
    [TestCase("require_purpose: false\n    purpose_min_length: 5", "purpose_min_length contradicts require_purpose: false")]
    public void Invalid_purpose_settings_fail_the_load(string line, string problem) =>
        Assert.That(() => Engine(Rule(line)), Throws.TypeOf<PolicyLoadException>().With.Property(nameof(PolicyLoadException.Problem)).Contains(problem));

    [Test]
    public void Approval_rule_answers_needs_approval_with_the_grant_it_would_issue()
    {
        var decision = Engine(ApprovalRule).Decide(Agent(SupportBot),
            Request("payments.refund", "pay", tools: ["stripe", "shell"], resources: ["refunds/r-1"], ttl: TimeSpan.FromHours(1)));

        Assert.That(decision.Effect, Is.EqualTo(DecisionEffect.NeedsApproval));
        Assert.That(decision.RuleIds, Is.EqualTo(new[] { "refunds" }));
        Assert.That(decision.Reason, Is.EqualTo("rule refunds allows this once approved by one of: spiffe://corp.example/humans/*, " +
            "https://login.corp.example#* (within 15m); not granted: tools 'shell'"));
        Assert.That(decision.Approval, Is.Not.Null);
        Assert.That(decision.Approval!.Approvers, Is.EqualTo(new[] { "spiffe://corp.example/humans/*", "https://login.corp.example#*" }));
        Assert.That(decision.Approval.Timeout, Is.EqualTo(TimeSpan.FromMinutes(15)));
        var grant = decision.Grant!;
        Assert.That(grant.Scope.Tools, Is.EqualTo(new[] { "stripe" }));
        Assert.That(grant.Scope.Resources, Is.EqualTo(new[] { "refunds/r-1" }));
        Assert.That(grant.Ttl, Is.EqualTo(TimeSpan.FromMinutes(5)));
        Assert.That(grant.IssuerParameters[IssuerParameterNames.JwtScopes], Is.EqualTo("refund"));
        Assert.That(() => ((IList<string>)decision.Approval.Approvers)[0] = "**", Throws.TypeOf<NotSupportedException>());
    }

    [Test]
    public void Approval_rule_still_denies_what_it_would_not_grant()
    {
        AssertDenied(Engine(ApprovalRule).Decide(Agent(SupportBot), Request("payments.refund", "pay", tools: ["shell"])),
            "rule refunds grants none of the requested tools ('shell')", "refunds");
    }

    [Test]
    public void Deny_beats_an_approval_rule()
    {
        var engine = Engine(ApprovalRule, """
              - id: freeze
                effect: deny
                principals: { trust_domains: [dev.jitbroker.local] }
                actions: ["payments.*"]
                reason: payments frozen
            """);

        AssertDenied(engine.Decide(Agent(SupportBot), Request("payments.refund", "pay", tools: ["stripe"])), "payments frozen", "freeze");
    }

    [TestCase("approvers: [\"**\"], timeout: 15m", "must begin with a literal scheme://authority")]
    [TestCase("approvers: [\"spiffe://*/humans/x\"], timeout: 15m", "must begin with a literal scheme://authority")]
    [TestCase("approvers: [\"alice\"], timeout: 15m", "must begin with a literal scheme://authority")]
    [TestCase("approvers: [\"spiffe://corp/h/***\"], timeout: 15m", "three or more consecutive '*'")]
    [TestCase("approvers: [], timeout: 15m", "must name 1-32 approver patterns")]
    [TestCase("approvers: [\"spiffe://corp/h/*\"]", "missing required key 'timeout'")]
    [TestCase("approvers: [\"spiffe://corp/h/*\"], timeout: 25h", "exceeds the limit of 24h")]
    [TestCase("approvers: [\"spiffe://corp/h/*\"], timeout: 15m, quorum: 2", "unknown key 'quorum'")]
    public void Invalid_approval_fails_the_load(string approval, string problem) =>
        Assert.That(() => Engine(Rule($"approval: {{ {approval} }}")), Throws.TypeOf<PolicyLoadException>().With.Property(nameof(PolicyLoadException.Problem)).Contains(problem));

    [TestCase("approval: { approvers: [\"spiffe://corp/h/*\"], timeout: 1m }")]
    [TestCase("require_purpose: true")]
    public void Allow_only_keys_are_refused_on_deny_rules(string line) =>
        Assert.That(() => Engine($$"""
              - id: d
                effect: deny
                principals: { trust_domains: [a] }
                actions: ["*"]
                {{line}}
            """), Throws.TypeOf<PolicyLoadException>().With.Message.Contains("applies only to allow rules"));

    private static string Rule(string extra, string id = "r", string ttl = "1m") => $$"""
          - id: {{id}}
            effect: allow
            principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/**"] }
            actions: ["x.read"]
            {{extra}}
            credential: { audiences: [aud], max_ttl: {{ttl}} }
        """;
}
