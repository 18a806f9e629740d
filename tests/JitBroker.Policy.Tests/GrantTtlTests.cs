using JitBroker.Core;
using static JitBroker.Policy.Tests.TestData;

namespace JitBroker.Policy.Tests;

/// <summary>TTL = min(requested (or the ceiling when unset), rule credential.max_ttl, defaults.max_ttl).</summary>
public sealed class GrantTtlTests
{
    [TestCase("15m", "10m", null, 10 * 60)]      // unset → rule max
    [TestCase("15m", "10m", 300, 300)]           // requested smaller wins
    [TestCase("15m", "10m", 3600, 10 * 60)]      // requested larger → rule max
    [TestCase("15m", null, null, 15 * 60)]       // rule without max → defaults
    [TestCase("15m", null, 20 * 60, 15 * 60)]    // defaults caps the request
    [TestCase("15m", null, 14 * 60, 14 * 60)]
    [TestCase(null, "10m", null, 10 * 60)]       // no defaults → rule
    [TestCase(null, "10m", 11 * 60, 10 * 60)]
    [TestCase("7m", "5m", 6 * 60, 5 * 60)]       // min of all three
    [TestCase("10m", "10m", 1, 1)]
    public void Ttl_is_the_minimum_of_the_three(string? defaults, string? rule, int? requestedSeconds, int expectedSeconds)
    {
        var engine = YamlPolicyEngine.Parse(Lines(
            "version: 1",
            defaults is null ? "# no defaults" : $"defaults: {{ max_ttl: {defaults} }}",
            "rules:",
            "  - id: r",
            "    effect: allow",
            "    principals: { spiffe_ids: [\"spiffe://dev.jitbroker.local/agents/*\"] }",
            "    actions: [\"x.read\"]",
            "    credential:",
            "      audiences: [aud]",
            rule is null ? "      # no max_ttl" : $"      max_ttl: {rule}"), "ttl.yaml");
        var requested = requestedSeconds is { } s ? TimeSpan.FromSeconds(s) : (TimeSpan?)null;

        var decision = engine.Decide(Agent(SupportBot), Request("x.read", "aud", ttl: requested));

        Assert.That(decision.Effect, Is.EqualTo(DecisionEffect.Allow), decision.Reason);
        Assert.That(decision.Grant!.Ttl, Is.EqualTo(TimeSpan.FromSeconds(expectedSeconds)));
    }

    [TestCase(0)]
    [TestCase(-60)]
    public void Non_positive_requested_ttl_is_denied(int seconds)
    {
        var engine = PolicyDecisionTests.Engine("""
              - id: r
                effect: allow
                principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/agents/*"] }
                actions: ["x.read"]
                credential: { audiences: [aud], max_ttl: 1m }
            """);

        PolicyDecisionTests.AssertDenied(
            engine.Decide(Agent(SupportBot), Request("x.read", "aud", ttl: TimeSpan.FromSeconds(seconds))),
            "the requested TTL must be positive", "r");
    }
}
