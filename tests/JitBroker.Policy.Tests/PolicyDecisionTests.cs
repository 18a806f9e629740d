using JitBroker.Core;
using static JitBroker.Policy.Tests.TestData;

namespace JitBroker.Policy.Tests;

/// <summary>Which rule decides: default deny, deny wins, principal / action / audience / kind matching.</summary>
public sealed class PolicyDecisionTests
{
    private const string SupportRule = """
          - id: support-tickets
            effect: allow
            principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/agents/support-*"] }
            actions: ["tickets.*"]
            tools: ["zendesk"]
            credential:
              audiences: ["https://tickets.internal.example"]
              max_ttl: 10m
        """;

    private const string NoDeletesRule = """
          - id: no-deletes
            effect: deny
            principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/**"] }
            actions: ["*.delete"]
            reason: Deletions need a human.
        """;

    [Test]
    public void Empty_policy_denies_everything()
    {
        var engine = YamlPolicyEngine.Parse("version: 1\nrules: []\n", "empty.yaml");

        var decision = engine.Decide(Agent(SupportBot), Request("tickets.read", TicketsAudience));

        Assert.That(engine.RuleCount, Is.Zero);
        AssertDenied(decision, $"no rule allows agent '{SupportBot}' to perform action 'tickets.read'");
    }

    [Test]
    public void Matching_allow_rule_grants_and_names_itself()
    {
        var decision = Engine(SupportRule).Decide(Agent(SupportBot), Request("tickets.create", TicketsAudience, tools: ["zendesk"]));

        Assert.That(decision.Effect, Is.EqualTo(DecisionEffect.Allow));
        Assert.That(decision.RuleIds, Is.EqualTo(new[] { "support-tickets" }));
        Assert.That(decision.Reason, Is.EqualTo("allowed by rule support-tickets"));
        var grant = decision.Grant!;
        Assert.That(grant.CredentialKind, Is.EqualTo("jwt"));
        Assert.That(grant.Scope.Audience, Is.EqualTo(TicketsAudience));
        Assert.That(grant.Scope.Action, Is.EqualTo("tickets.create"));
        Assert.That(grant.Scope.Tools, Is.EqualTo(new[] { "zendesk" }));
        Assert.That(grant.Scope.Resources, Is.Empty);
        Assert.That(grant.Ttl, Is.EqualTo(TimeSpan.FromMinutes(10)));
        Assert.That(grant.IssuerParameters, Is.Empty);
    }

    [Test]
    public void Action_outside_the_rule_is_denied() =>
        AssertDenied(Engine(SupportRule).Decide(Agent(SupportBot), Request("reports.read", TicketsAudience)),
            $"no rule allows agent '{SupportBot}' to perform action 'reports.read'");

    [TestCase("deny first")]
    [TestCase("deny last")]
    public void Explicit_deny_wins_wherever_it_stands(string order)
    {
        var everything = """
              - id: support-everything
                effect: allow
                principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/agents/support-bot"] }
                actions: ["**"]
                credential: { audiences: ["https://tickets.internal.example"], max_ttl: 5m }
            """;
        var engine = order == "deny first" ? Engine(NoDeletesRule, everything) : Engine(everything, NoDeletesRule);

        var denied = engine.Decide(Agent(SupportBot), Request("tickets.delete", TicketsAudience));
        var allowed = engine.Decide(Agent(SupportBot), Request("tickets.read", TicketsAudience));

        AssertDenied(denied, "Deletions need a human.", "no-deletes");
        Assert.That(allowed.Effect, Is.EqualTo(DecisionEffect.Allow));
        Assert.That(allowed.RuleIds, Is.EqualTo(new[] { "support-everything" }));
    }

    [Test]
    public void Deny_rule_without_reason_names_itself()
    {
        var engine = Engine("""
              - id: freeze
                effect: deny
                principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/**"] }
                actions: ["*"]
            """, SupportRule);

        AssertDenied(engine.Decide(Agent(SupportBot), Request("tickets.read", TicketsAudience)), "denied by rule freeze", "freeze");
    }

    [Test]
    public void Deny_applies_even_when_no_allow_rule_would()
    {
        // The deny is reported (not the default deny) so the caller learns the real reason.
        var decision = Engine(NoDeletesRule).Decide(Agent(ReportingBot), Request("reports.delete", ReportsAudience));

        AssertDenied(decision, "Deletions need a human.", "no-deletes");
    }

    [Test]
    public void Audience_not_listed_by_the_rule_is_denied() =>
        AssertDenied(Engine(SupportRule).Decide(Agent(SupportBot), Request("tickets.read", "https://tickets.internal.example/")),
            "no rule allows action 'tickets.read' for audience 'https://tickets.internal.example/'");

    [Test]
    public void Credential_kind_other_than_the_rule_is_denied() =>
        AssertDenied(Engine(SupportRule).Decide(Agent(SupportBot), Request("tickets.read", TicketsAudience, kind: "vault-token")),
            "no rule allows action 'tickets.read' for audience 'https://tickets.internal.example' with credential kind 'vault-token'");

    [Test]
    public void Rule_with_explicit_kind_grants_that_kind()
    {
        var engine = Engine("""
              - id: vault
                effect: allow
                principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/agents/support-bot"] }
                actions: ["db.read"]
                credential: { kind: vault-secret, targets: ["postgres-main"], path: database/creds/readonly, max_ttl: 2m }
            """);

        var decision = engine.Decide(Agent(SupportBot), Request("db.read", "postgres-main", kind: "vault-secret"));

        Assert.That(decision.Grant!.CredentialKind, Is.EqualTo("vault-secret"));
        Assert.That(engine.Decide(Agent(SupportBot), Request("db.read", "postgres-main")).Effect, Is.EqualTo(DecisionEffect.Deny));
    }

    [TestCase("spiffe://prod.jitbroker.local/agents/support-bot", null)]
    [TestCase("spiffe://dev.jitbroker.local.evil.example/agents/support-bot", null)]
    [TestCase("spiffe://dev.jitbroker.local/agents/support-bot", "prod.jitbroker.local")]
    [TestCase("spiffe://prod.jitbroker.local/agents/support-bot", "dev.jitbroker.local")]
    public void Agent_of_another_trust_domain_is_denied(string spiffeId, string? trustDomain)
    {
        var decision = Engine(SupportRule).Decide(Agent(spiffeId, trustDomain), Request("tickets.read", TicketsAudience));

        Assert.That(decision.Effect, Is.EqualTo(DecisionEffect.Deny));
        Assert.That(decision.RuleIds, Is.Empty);
    }

    [Test]
    public void Identity_whose_id_and_trust_domain_disagree_matches_nothing()
    {
        // The rule spans two trust domains, so it is indexed under both; each pattern must still only
        // match agents of its own domain, whatever the ID alone says.
        var engine = Engine("""
              - id: two-domains
                effect: allow
                principals: { spiffe_ids: ["spiffe://a.example/**", "spiffe://b.example/agents/x"] }
                actions: ["x.read"]
                credential: { audiences: [aud], max_ttl: 1m }
            """);

        Assert.That(engine.Decide(Agent("spiffe://b.example/agents/x", "a.example"), Request("x.read", "aud")).Effect, Is.EqualTo(DecisionEffect.Deny));
        Assert.That(engine.Decide(Agent("spiffe://b.example/agents/x"), Request("x.read", "aud")).Effect, Is.EqualTo(DecisionEffect.Allow));
        Assert.That(engine.Decide(Agent("spiffe://a.example/any/thing"), Request("x.read", "aud")).Effect, Is.EqualTo(DecisionEffect.Allow));
    }

    [Test]
    public void Non_spiffe_identity_matches_no_spiffe_rule()
    {
        var oidc = new WorkloadIdentity
        {
            Id = "https://token.actions.example#repo:acme/support-bot",
            TrustDomain = "https://token.actions.example",
            Method = "oidc",
            EvidenceFingerprint = "sha256:x",
        };

        Assert.That(Engine(SupportRule, NoDeletesRule).Decide(oidc, Request("tickets.read", TicketsAudience)).Effect, Is.EqualTo(DecisionEffect.Deny));
    }

    [TestCase("spiffe://dev.jitbroker.local/agents/support-bot", true)]
    [TestCase("spiffe://dev.jitbroker.local/agents/support-", true)]
    [TestCase("spiffe://dev.jitbroker.local/agents/support-bot/child", false)]
    [TestCase("spiffe://dev.jitbroker.local/agents/x/support-bot", false)]
    [TestCase("spiffe://dev.jitbroker.local/agents/Support-bot", false)]
    [TestCase("spiffe://dev.jitbroker.local/agents/support", false)]
    public void Single_star_in_a_principal_stays_within_one_path_segment(string spiffeId, bool allowed) =>
        Assert.That(Engine(SupportRule).Decide(Agent(spiffeId), Request("tickets.read", TicketsAudience)).Effect,
            Is.EqualTo(allowed ? DecisionEffect.Allow : DecisionEffect.Deny));

    [Test]
    public void First_matching_allow_rule_in_file_order_decides()
    {
        var broad = """
              - id: broad
                effect: allow
                principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/agents/support-bot"] }
                actions: ["tickets.read"]
                tools: ["zendesk", "crm"]
                credential: { audiences: ["https://tickets.internal.example"], max_ttl: 15m }
            """;

        var narrowFirst = Engine(SupportRule, broad).Decide(Agent(SupportBot), Request("tickets.read", TicketsAudience, tools: ["zendesk", "crm"]));
        var broadFirst = Engine(broad, SupportRule).Decide(Agent(SupportBot), Request("tickets.read", TicketsAudience, tools: ["zendesk", "crm"]));

        Assert.That(narrowFirst.RuleIds, Is.EqualTo(new[] { "support-tickets" }));
        Assert.That(narrowFirst.Grant!.Scope.Tools, Is.EqualTo(new[] { "zendesk" }));
        Assert.That(narrowFirst.Grant.Ttl, Is.EqualTo(TimeSpan.FromMinutes(10)));
        Assert.That(broadFirst.RuleIds, Is.EqualTo(new[] { "broad" }));
        Assert.That(broadFirst.Grant!.Scope.Tools, Is.EqualTo(new[] { "zendesk", "crm" }));
        Assert.That(broadFirst.Grant.Ttl, Is.EqualTo(TimeSpan.FromMinutes(15)));
    }

    [Test]
    public void Allow_rule_for_another_audience_is_skipped_for_a_later_one()
    {
        var reports = """
              - id: support-reports
                effect: allow
                principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/agents/support-bot"] }
                actions: ["tickets.read"]
                credential: { audiences: ["https://reports.internal.example"], max_ttl: 1m }
            """;

        var decision = Engine(SupportRule, reports).Decide(Agent(SupportBot), Request("tickets.read", ReportsAudience));

        Assert.That(decision.RuleIds, Is.EqualTo(new[] { "support-reports" }));
        Assert.That(decision.Grant!.Scope.Audience, Is.EqualTo(ReportsAudience));
    }

    [TestCase("tickets.*")]
    [TestCase("tickets.?ead")]
    public void Declared_action_that_is_a_pattern_is_denied(string action) =>
        AssertDenied(Engine(SupportRule).Decide(Agent(SupportBot), Request(action, TicketsAudience)),
            $"action '{action}' is not a concrete action name");

    [Test]
    public void Returned_lists_cannot_be_modified_by_the_caller()
    {
        var engine = Engine(SupportRule, NoDeletesRule);
        var allowed = engine.Decide(Agent(SupportBot), Request("tickets.read", TicketsAudience, tools: ["zendesk"]));
        var denied = engine.Decide(Agent(SupportBot), Request("tickets.delete", TicketsAudience));

        Assert.That(() => ((IList<string>)allowed.RuleIds)[0] = "x", Throws.TypeOf<NotSupportedException>());
        Assert.That(() => ((IList<string>)allowed.Grant!.Scope.Tools)[0] = "*", Throws.TypeOf<NotSupportedException>());
        Assert.That(() => ((IList<string>)denied.RuleIds)[0] = "x", Throws.TypeOf<NotSupportedException>());
        Assert.That(engine.Decide(Agent(SupportBot), Request("tickets.delete", TicketsAudience)).RuleIds, Is.EqualTo(new[] { "no-deletes" }));
    }

    [Test]
    public void Concurrent_decisions_agree()
    {
        var engine = Engine(SupportRule, NoDeletesRule);
        var results = new DecisionEffect[2000];

        Parallel.For(0, results.Length, i => results[i] = engine.Decide(Agent(SupportBot),
            Request(i % 2 == 0 ? "tickets.read" : "tickets.delete", TicketsAudience)).Effect);

        Assert.That(results.Where((_, i) => i % 2 == 0), Is.All.EqualTo(DecisionEffect.Allow));
        Assert.That(results.Where((_, i) => i % 2 == 1), Is.All.EqualTo(DecisionEffect.Deny));
    }

    internal static YamlPolicyEngine Engine(params string[] rules) =>
        YamlPolicyEngine.Parse("version: 1\nrules:\n" + string.Join('\n', rules) + "\n", "test.yaml");

    internal static void AssertDenied(PolicyDecision decision, string reason, params string[] ruleIds)
    {
        Assert.That(decision.Effect, Is.EqualTo(DecisionEffect.Deny));
        Assert.That(decision.Grant, Is.Null);
        Assert.That(decision.Reason, Is.EqualTo(reason));
        Assert.That(decision.RuleIds, Is.EqualTo(ruleIds));
    }
}
