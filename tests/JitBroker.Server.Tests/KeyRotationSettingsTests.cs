using JitBroker.Server;
using Microsoft.Extensions.Configuration;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// Scheduled token-key rotation in the production profile: keys derive from a shared root secret, which production must
/// name (a secret generated per pod would give every replica its own keys), checked at start-up like other key files.
/// </summary>
[NonParallelizable] // BrokerHost.Check may write to the console
public sealed class KeyRotationSettingsTests
{
    private static JitBrokerSettings Production(Action<JitBrokerSettings>? configure = null)
    {
        var settings = new JitBrokerSettings
        {
            Profile = Profiles.Production,
            DataDirectory = "/var/lib/jitbroker",
            Leases = new LeaseStoreSettings { Store = LeaseStoreSettings.Redis },
            Issuer = { Issuer = "https://broker.example" },
        };
        settings.Redis.Endpoint = "redis.example:6380";
        settings.Redis.UseTls = true;
        settings.StateIntegrity.KeyPath = "/etc/jitbroker/state-integrity/key";
        settings.AuditSigningKey.PrivateKeyPemPath = "/etc/jitbroker/audit/audit-signing-key.pem";
        settings.SigningKey.RotationInterval = TimeSpan.FromDays(1);
        configure?.Invoke(settings);
        return settings;
    }

    private static string Errors(JitBrokerSettings settings) => string.Join("\n", SettingsValidator.Validate(settings));

    [Test]
    public void Production_accepts_rotation_with_a_root_secret()
    {
        var errors = Errors(Production(s => s.SigningKey.RotationRootSecretPath = "/var/run/jitbroker/signing/rotation-root.key"));

        Assert.That(errors, Does.Not.Contain("Rotation"));
    }

    [Test]
    public void Production_refuses_rotation_without_a_root_secret()
    {
        Assert.That(Errors(Production()), Does.Contain("JitBroker:SigningKey:RotationRootSecretPath is required with JitBroker:SigningKey:RotationInterval in the production profile"));
    }

    [Test]
    public void A_root_secret_and_a_key_file_are_mutually_exclusive_and_a_root_secret_needs_an_interval()
    {
        var both = Errors(Production(s =>
        {
            s.SigningKey.RotationRootSecretPath = "/var/run/jitbroker/signing/rotation-root.key";
            s.SigningKey.PrivateKeyPemPath = "/var/run/jitbroker/signing/signing-key.pem";
        }));
        var noInterval = Errors(Production(s =>
        {
            s.SigningKey.RotationRootSecretPath = "/var/run/jitbroker/signing/rotation-root.key";
            s.SigningKey.RotationInterval = null;
        }));

        Assert.That(both, Does.Contain("cannot rotate JitBroker:SigningKey:PrivateKeyPemPath"));
        Assert.That(noInterval, Does.Contain("JitBroker:SigningKey:RotationRootSecretPath is set but JitBroker:SigningKey:RotationInterval is not"));
    }

    [TestCase(0b110_100_000, "accessible to group or other")]
    [TestCase(0b110_000_000, "at least 32 random bytes")]
    [Platform(Exclude = "Win", Reason = "Unix file modes")]
    public void A_root_secret_file_readable_by_others_or_too_short_stops_the_start(int mode, string expected)
    {
        var dir = Directory.CreateTempSubdirectory("jitbroker-rotation-").FullName;
        try
        {
            var path = Path.Combine(dir, "rotation-root.key");
            File.WriteAllText(path, Convert.ToBase64String(new byte[mode == 0b110_000_000 ? 16 : 32]));
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(path, (UnixFileMode)mode);
            }
            var settings = new Dictionary<string, string?>
            {
                ["JitBroker:DataDirectory"] = dir,
                ["JitBroker:Listen:Grpc"] = "127.0.0.1:0",
                ["JitBroker:Listen:Http"] = "127.0.0.1:0",
                ["JitBroker:Listen:Admin"] = "127.0.0.1:0",
                ["JitBroker:SigningKey:RotationInterval"] = "1.00:00:00",
                ["JitBroker:SigningKey:RotationRootSecretPath"] = path,
            };

            var errors = Assert.Throws<InvalidBrokerConfigurationException>(() => BrokerHost.Check([], c => c.AddInMemoryCollection(settings)))!.Errors;

            Assert.That(errors, Has.One.StartsWith("JitBroker:SigningKey:RotationRootSecretPath:"));
            Assert.That(string.Join("\n", errors), Does.Contain(expected));
            Assert.That(string.Join("\n", errors), Does.Not.Contain(Convert.ToBase64String(new byte[32])), "the secret is never echoed");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
