using JitBroker.Attestation;
using JitBroker.Server;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>The broker validates its configuration at start-up and refuses to start on nonsense.</summary>
public sealed class ConfigurationTests
{
    private string _dir = null!;

    [SetUp]
    public void CreateDir() => _dir = Directory.CreateTempSubdirectory("jitbroker-config-").FullName;

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    private InvalidBrokerConfigurationException Refused(Dictionary<string, string?> settings) => SettingsRefusal.Refused(_dir, settings);

    [Test]
    public void Production_refuses_to_trust_the_dev_trust_domain()
    {
        var dev = DevTrustDomain.LoadOrCreate(Path.Combine(_dir, "dev"), TimeProvider.System);
        var ex = Refused(new()
        {
            ["JitBroker:Profile"] = "production",
            ["JitBroker:Issuer:Issuer"] = "https://broker.example",
            [$"JitBroker:Attestation:JwtSvid:TrustBundles:{DevTrustDomain.Name}"] = dev.BundlePath,
        });
        Assert.That(ex.Errors, Has.Some.Contains(DevTrustDomain.Name));
    }

    [Test]
    public void Production_without_any_trust_bundle_refuses_to_start()
    {
        var ex = Refused(new() { ["JitBroker:Profile"] = "production", ["JitBroker:Issuer:Issuer"] = "https://broker.example" });
        Assert.That(ex.Errors, Has.Some.Contains("trust bundle"));
    }

    [TestCase("JitBroker:Profile", "staging", "Profile")]
    [TestCase("JitBroker:Listen:Grpc", "not-an-endpoint", "Listen:Grpc")]
    [TestCase("JitBroker:Broker:MaxTtl", "3.00:00:00", "MaxTtl")]
    [TestCase("JitBroker:Leases:Store", "cassandra", "Store")]
    [TestCase("JitBroker:Attestation:JwtSvid:Audience", "", "udience")]
    [TestCase("JitBroker:Typo", "x", "Typo")]
    [TestCase("JitBroker:Introspection:ResourceServers:0", "**", "Introspection:ResourceServers '**': '**' must begin with a literal scheme://authority")]
    [TestCase("JitBroker:Introspection:ResourceServers:0", "spiffe://*/tools/x", "must begin with a literal scheme://authority")]
    public void Nonsense_is_refused_with_a_message_naming_the_setting(string key, string value, string expected)
    {
        var ex = Refused(new() { [key] = value });
        Assert.That(string.Join("\n", ex.Errors), Does.Contain(expected));
    }

    [Test]
    public void A_broken_policy_file_stops_the_broker()
    {
        var policy = Path.Combine(_dir, "broken.yaml");
        File.WriteAllText(policy, "version: 1\nrules:\n  - id: x\n    effect: maybe\n");
        var ex = Refused(new() { ["JitBroker:Policy:Path"] = policy });
        Assert.That(ex.Message, Does.Contain("broken.yaml"));
    }
}
