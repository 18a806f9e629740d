using JitBroker.Server;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>Issue 19 settings: Tools:ResourceServers is validated at start-up; the production profile requires policy owners.</summary>
public sealed class ToolUseSettingsTests
{
    private string _dir = null!;

    [SetUp]
    public void CreateDir() => _dir = Directory.CreateTempSubdirectory("jitbroker-tools-").FullName;

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    private InvalidBrokerConfigurationException Refused(Dictionary<string, string?> settings) => SettingsRefusal.Refused(_dir, settings);

    [TestCase("**", "https://tickets.example", "Tools:ResourceServers:0:Identity '**'")]
    [TestCase("spiffe://*/tools/x", "https://tickets.example", "must begin with a literal scheme://authority")]
    [TestCase("spiffe://example.org/tools/x", "has space", "Tools:ResourceServers:0:Audiences 'has space'")]
    public void A_bad_resource_server_entry_stops_the_broker_naming_it(string identity, string audience, string expected)
    {
        var ex = Refused(new()
        {
            ["JitBroker:Tools:ResourceServers:0:Identity"] = identity,
            ["JitBroker:Tools:ResourceServers:0:Audiences:0"] = audience,
        });

        Assert.That(string.Join("\n", ex.Errors), Does.Contain(expected));
    }

    [Test]
    public void A_resource_server_without_audiences_stops_the_broker()
    {
        var ex = Refused(new() { ["JitBroker:Tools:ResourceServers:0:Identity"] = "spiffe://example.org/tools/x" });

        Assert.That(string.Join("\n", ex.Errors), Does.Contain("Tools:ResourceServers:0:Audiences must name at least one audience"));
    }

    [Test]
    public void Required_owners_stop_a_broker_whose_allow_rule_names_none_naming_the_rule()
    {
        var policy = Path.Combine(_dir, "p.yaml");
        File.WriteAllText(policy, "version: 1\nrules:\n  - id: orphan\n    effect: allow\n    principals: { spiffe_ids: [\"spiffe://dev.jitbroker.local/**\"] }\n" +
            "    actions: [\"x.read\"]\n    credential: { audiences: [aud], max_ttl: 1m }\n");

        var ex = Refused(new() { ["JitBroker:Policy:Path"] = policy, ["JitBroker:Policy:RequireOwners"] = "true" });

        Assert.That(string.Join("\n", ex.Errors), Does.Contain("rule 'orphan' is an allow rule without 'owner'"));
    }

    [Test]
    public void The_production_profile_requires_owners_and_the_embedded_one_only_when_asked()
    {
        Assert.That(BrokerHost.OwnersRequired(new JitBrokerSettings { Profile = Profiles.Production }), Is.True);
        Assert.That(BrokerHost.OwnersRequired(new JitBrokerSettings { Profile = Profiles.Embedded }), Is.False);
        Assert.That(BrokerHost.OwnersRequired(new JitBrokerSettings { Profile = Profiles.Embedded, Policy = { RequireOwners = true } }), Is.True);
    }
}
