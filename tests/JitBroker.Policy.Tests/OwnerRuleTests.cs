using JitBroker.Core;
using Microsoft.Extensions.DependencyInjection;
using Moq;
using static JitBroker.Policy.Tests.PolicyDecisionTests;
using static JitBroker.Policy.Tests.TestData;

namespace JitBroker.Policy.Tests;

/// <summary>Issue 19 item 3: a rule's <c>owner</c> is read, carried on its decisions and grants, and required where asked.</summary>
public sealed class OwnerRuleTests
{
    [Test]
    public void An_allow_rule_s_owner_rides_on_the_decision_and_the_grant()
    {
        var decision = Engine(Allow("r", "owner: \"alice@example.com\"")).Decide(Agent(SupportBot), Request("x.read", "aud"));

        Assert.That(decision.Effect, Is.EqualTo(DecisionEffect.Allow));
        Assert.That(decision.Owner, Is.EqualTo("alice@example.com"));
        Assert.That(decision.Grant!.Owner, Is.EqualTo("alice@example.com"));
    }

    [Test]
    public void A_deny_rule_s_owner_rides_on_its_denial()
    {
        var decision = Engine(Allow("r", "owner: alice@example.com"), """
              - id: d
                effect: deny
                owner: bob@example.com
                principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/**"] }
                actions: ["x.read"]
            """).Decide(Agent(SupportBot), Request("x.read", "aud"));

        Assert.That((decision.Effect, decision.Owner), Is.EqualTo((DecisionEffect.Deny, "bob@example.com")));
    }

    [Test]
    public void A_rule_without_an_owner_decides_with_none()
    {
        var decision = Engine(Allow("r", "")).Decide(Agent(SupportBot), Request("x.read", "aud"));

        Assert.That((decision.Owner, decision.Grant!.Owner), Is.EqualTo(((string?)null, (string?)null)));
    }

    [TestCase("owner: \"\"")]
    [TestCase("owner: [alice]")]
    [TestCase("owner: \"alice\\nmallory\"")]
    public void An_owner_that_is_not_one_printable_line_does_not_load(string owner)
    {
        var ex = Assert.Throws<PolicyLoadException>(() => Engine(Allow("r", owner)));

        Assert.That(ex!.Message, Does.Contain("owner"));
    }

    [Test]
    public void When_owners_are_required_an_allow_rule_without_one_stops_the_load_naming_the_rule()
    {
        using var dir = new PolicyDirectory();
        var path = dir.Write("p.yaml", "version: 1\nrules:\n" + Allow("owned", "owner: alice@example.com") + "\n" + Allow("orphan", "") + "\n");

        var ex = Assert.Throws<PolicyLoadException>(() => YamlPolicyEngine.Load(path, requireOwners: true));
        var lenient = YamlPolicyEngine.Load(path);

        Assert.That(ex!.Message, Does.Contain("rule 'orphan'").And.Contain("owner"));
        Assert.That(lenient.RuleCount, Is.EqualTo(2), "without the requirement (embedded) an owner stays optional");
    }

    [Test]
    public void A_deny_rule_needs_no_owner_even_when_owners_are_required()
    {
        using var dir = new PolicyDirectory();
        var path = dir.Write("p.yaml", "version: 1\nrules:\n" + Allow("owned", "owner: alice@example.com") + """

              - id: d
                effect: deny
                principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/**"] }
                actions: ["x.delete"]

            """);

        Assert.That(YamlPolicyEngine.Load(path, requireOwners: true).RuleCount, Is.EqualTo(2));
    }

    [Test]
    public async Task A_reload_that_drops_a_required_owner_is_refused_and_the_last_good_policy_kept()
    {
        using var dir = new PolicyDirectory();
        var path = dir.Write("p.yaml", "version: 1\nrules:\n" + Allow("r", "owner: alice@example.com") + "\n");
        using var engine = new ReloadingPolicyEngine(path, TimeSpan.Zero, requireOwners: true);
        dir.Write("p.yaml", "version: 1\nrules:\n" + Allow("r", "") + "\n");

        var result = await engine.ReloadNowAsync();

        Assert.That(result.Succeeded, Is.False);
        Assert.That(engine.Decide(Agent(SupportBot), Request("x.read", "aud")).Owner, Is.EqualTo("alice@example.com"));
    }

    [TestCase(0)]
    [TestCase(5)]
    public void The_options_carry_the_requirement_to_the_registered_engine(int reloadSeconds)
    {
        using var dir = new PolicyDirectory();
        var path = dir.Write("p.yaml", "version: 1\nrules:\n" + Allow("orphan", "") + "\n");
        var services = new ServiceCollection().AddJitBrokerPolicy(
            new PolicyOptions { Path = path, ReloadInterval = TimeSpan.FromSeconds(reloadSeconds), RequireOwners = true });
        var provider = new Mock<IServiceProvider>();
        provider.Setup(p => p.GetService(It.IsAny<Type>()))
            .Returns((Type type) => services.LastOrDefault(d => d.ServiceType == type) is { } d ? d.ImplementationInstance ?? d.ImplementationFactory?.Invoke(provider.Object) : null);

        var ex = Assert.Throws<PolicyLoadException>(() => provider.Object.GetService(typeof(IPolicyEngine)));

        Assert.That(ex!.Message, Does.Contain("rule 'orphan'"));
    }

    private static string Allow(string id, string extra) => $$"""
          - id: {{id}}
            effect: allow
            principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/**"] }
            actions: ["x.read"]
            {{extra}}
            credential: { audiences: [aud], max_ttl: 1m }
        """;
}
