using JitBroker.Core;
using JitBroker.Policy.Evaluation;
using static JitBroker.Policy.Tests.PolicyDecisionTests;
using static JitBroker.Policy.Tests.TestData;

namespace JitBroker.Policy.Tests;

/// <summary>The index only narrows candidates; decisions must be exactly those of a linear scan.</summary>
public sealed class RuleIndexTests
{
    [TestCase("tickets.read", "tickets")]
    [TestCase("tickets.*", "tickets")]
    [TestCase("tickets.**", "tickets")]
    [TestCase("tickets", "tickets")]
    [TestCase("a/b.c", "a/b")]
    [TestCase("tick*", null)]
    [TestCase("tick?ts.read", null)]
    [TestCase("*.delete", null)]
    [TestCase("**", null)]
    [TestCase("*", null)]
    public void Action_key_is_the_literal_first_segment(string pattern, string? expected) =>
        Assert.That(RuleIndex.ActionKeyOf(pattern), Is.EqualTo(expected));

    private static string Rule(string id, string action, int ttlMinutes) => $$"""
          - id: {{id}}
            effect: allow
            principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/agents/*"] }
            actions: ["{{action}}"]
            credential: { audiences: [aud], max_ttl: {{ttlMinutes}}m }
        """;

    [TestCase("**", "tickets.read")]
    [TestCase("*.read", "tickets.*")]
    [TestCase("tickets.*", "*.read")]
    [TestCase("tickets.read", "**")]
    [TestCase("tick*", "tickets.read")]
    public void First_rule_in_file_order_wins_whether_keyed_or_not(string firstAction, string secondAction)
    {
        var engine = Engine(Rule("first", firstAction, 1), Rule("second", secondAction, 2));

        var decision = engine.Decide(Agent(SupportBot), Request("tickets.read", "aud"));

        Assert.That(decision.RuleIds, Is.EqualTo(new[] { "first" }));
    }

    [Test]
    public void Unkeyed_deny_after_keyed_allow_still_wins()
    {
        var engine = Engine(Rule("allow", "tickets.delete", 1), """
              - id: deny
                effect: deny
                principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/**"] }
                actions: ["*.delete"]
            """);

        AssertDenied(engine.Decide(Agent(SupportBot), Request("tickets.delete", "aud")), "denied by rule deny", "deny");
    }

    [Test]
    public void Rule_with_several_action_families_is_found_under_each()
    {
        var engine = Engine("""
              - id: multi
                effect: allow
                principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/agents/*"] }
                actions: ["tickets.read", "reports.*", "deploy"]
                credential: { audiences: [aud], max_ttl: 1m }
            """);

        Assert.Multiple(() =>
        {
            foreach (var action in new[] { "tickets.read", "reports.weekly", "deploy" })
            {
                Assert.That(engine.Decide(Agent(SupportBot), Request(action, "aud")).Effect, Is.EqualTo(DecisionEffect.Allow), action);
            }

            foreach (var action in new[] { "tickets.write", "deploy.now", "reports", "deployx" })
            {
                Assert.That(engine.Decide(Agent(SupportBot), Request(action, "aud")).Effect, Is.EqualTo(DecisionEffect.Deny), action);
            }
        });
    }

    [Test]
    public void Rule_mixing_literal_and_wildcard_first_segments_is_found_for_both()
    {
        var engine = Engine("""
              - id: mixed
                effect: allow
                principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/agents/*"] }
                actions: ["tickets.read", "*.archive"]
                credential: { audiences: [aud], max_ttl: 1m }
            """);

        Assert.That(engine.Decide(Agent(SupportBot), Request("tickets.read", "aud")).Effect, Is.EqualTo(DecisionEffect.Allow));
        Assert.That(engine.Decide(Agent(SupportBot), Request("reports.archive", "aud")).Effect, Is.EqualTo(DecisionEffect.Allow));
        Assert.That(engine.Decide(Agent(SupportBot), Request("reports.read", "aud")).Effect, Is.EqualTo(DecisionEffect.Deny));
    }

    [Test]
    public void Many_rules_agree_with_a_linear_reference()
    {
        // Mixed keyed / unkeyed rules over two trust domains, checked against a naive first-match scan.
        string[] actions = ["tickets.read", "tickets.*", "*.read", "reports.*", "**", "t*", "reports.weekly", "deploy"];
        var rules = Enumerable.Range(0, 40).Select(i => $$"""
              - id: r{{i}}
                effect: {{(i % 7 == 6 ? "deny" : "allow")}}
                principals: { spiffe_ids: ["spiffe://{{(i % 3 == 0 ? "prod.example" : "dev.jitbroker.local")}}/agents/*"] }
                actions: ["{{actions[i % actions.Length]}}"]
            {{(i % 7 == 6 ? "" : "    credential: { audiences: [aud], max_ttl: 1m }")}}
            """).ToArray();
        var engine = Engine(rules);

        foreach (var agent in new[] { SupportBot, "spiffe://prod.example/agents/x" })
        {
            foreach (var action in new[] { "tickets.read", "tickets.write", "reports.weekly", "reports.read", "deploy", "tx", "other.thing" })
            {
                var expected = LinearReference(agent, action, actions);
                var ruleIds = engine.Decide(Agent(agent), Request(action, "aud")).RuleIds;
                Assert.That(ruleIds.Count == 0 ? null : ruleIds[0], Is.EqualTo(expected), $"{agent} {action}");
            }
        }
    }

    private static string? LinearReference(string agentId, string action, string[] actions)
    {
        var domain = new Uri(agentId).Host;
        string? firstAllow = null;
        for (var i = 0; i < 40; i++)
        {
            var ruleDomain = i % 3 == 0 ? "prod.example" : "dev.jitbroker.local";
            if (ruleDomain != domain || !GlobPattern.Parse(actions[i % actions.Length]).IsMatch(action))
            {
                continue;
            }

            if (i % 7 == 6)
            {
                return $"r{i}";
            }

            firstAllow ??= $"r{i}";
        }

        return firstAllow;
    }
}
