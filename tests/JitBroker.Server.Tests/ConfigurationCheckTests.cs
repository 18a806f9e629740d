using JitBroker.Issuance;
using JitBroker.Server;
using Microsoft.Extensions.Configuration;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// <c>JitBroker.Server check</c> is a dry run of start-up's validation: same binding, same checks, nothing written;
/// and every error names the key by its full configuration path.
/// </summary>
[NonParallelizable] // BrokerProgram writes to the process's console
public sealed class ConfigurationCheckTests
{
    private string _dir = null!;

    [SetUp]
    public void CreateDir() => _dir = Directory.CreateTempSubdirectory("jitbroker-check-").FullName;

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    private Dictionary<string, string?> Settings(params (string Key, string Value)[] overrides)
    {
        var settings = new Dictionary<string, string?>
        {
            ["JitBroker:DataDirectory"] = _dir,
            ["JitBroker:Listen:Grpc"] = "127.0.0.1:0",
            ["JitBroker:Listen:Http"] = "127.0.0.1:0",
            ["JitBroker:Listen:Admin"] = "127.0.0.1:0",
        };
        foreach (var (key, value) in overrides)
        {
            settings[key] = value;
        }

        return settings;
    }

    private Task<int> CheckAsync(Dictionary<string, string?> settings) =>
        BrokerProgram.RunAsync(["check"], c => c.AddInMemoryCollection(settings));

    private IReadOnlyList<string> Errors(params (string Key, string Value)[] overrides) =>
        Assert.Throws<InvalidBrokerConfigurationException>(() => BrokerHost.Check([], c => c.AddInMemoryCollection(Settings(overrides))))!.Errors;

    [Test]
    public async Task Scheduled_key_rotation_must_publish_ahead_of_the_jwks_cache_and_outlive_the_longest_token()
    {
        var early = Errors(("JitBroker:SigningKey:RotationInterval", "01:00:00"), ("JitBroker:SigningKey:RotationPublishAhead", "00:01:00"),
            ("JitBroker:SigningKey:RotationRetainAfterRetirement", "00:10:00"));

        Assert.That(early, Has.One.StartsWith("JitBroker:SigningKey:RotationPublishAhead must be at least the JWKS cache lifetime"));
        Assert.That(early, Has.One.StartsWith("JitBroker:SigningKey:RotationRetainAfterRetirement must be at least the longest token lifetime"));
        Assert.That(Errors(("JitBroker:SigningKey:RotationInterval", "01:00:00"), ("JitBroker:SigningKey:PrivateKeyPemPath", Path.Combine(_dir, "k.pem"))),
            Has.One.Contains("cannot rotate JitBroker:SigningKey:PrivateKeyPemPath"));
        Assert.That(await CheckAsync(Settings(("JitBroker:SigningKey:RotationInterval", "01:00:00"))), Is.EqualTo(BrokerProgram.Ok), "defaults fit");
    }

    [Test]
    public void The_audit_checkpoint_key_cannot_be_the_token_signing_key()
    {
        var key = Path.Combine(_dir, "key.pem");

        var errors = Errors(("JitBroker:SigningKey:PrivateKeyPemPath", key), ("JitBroker:AuditSigningKey:PrivateKeyPemPath", key));

        Assert.That(errors, Has.One.StartsWith("JitBroker:AuditSigningKey:PrivateKeyPemPath must not be the token key"));
    }

    [TestCase("JitBroker:Attestation:JwtSvid:Leeway")]
    [TestCase("JitBroker:Attestation:Oidc:Leeway")]
    public async Task A_replay_slack_shorter_than_an_attestation_leeway_refuses_to_start(string leewayKey)
    {
        var errors = Errors(("JitBroker:Broker:ReplaySlack", "00:00:20"), (leewayKey, "00:01:00"));

        Assert.That(errors, Has.One.StartsWith("JitBroker:Broker:ReplaySlack (20s) must be at least the largest attestation leeway, " + leewayKey + " (60s)"));
        Assert.That(await CheckAsync(Settings(("JitBroker:Broker:ReplaySlack", "00:01:00"), (leewayKey, "00:01:00"))), Is.EqualTo(BrokerProgram.Ok), "equal is enough");
    }

    [Test]
    public async Task Check_of_a_usable_embedded_configuration_exits_0_and_leaves_an_empty_data_directory_empty()
    {
        var exit = await CheckAsync(Settings());

        Assert.That(exit, Is.EqualTo(BrokerProgram.Ok));
        Assert.That(Directory.EnumerateFileSystemEntries(_dir), Is.Empty, "no signing key, no dev trust domain, no audit file");
    }

    [Test]
    public async Task Check_of_nonsense_exits_2_and_writes_nothing()
    {
        var exit = await CheckAsync(Settings(("JitBroker:Profile", "staging")));

        Assert.That(exit, Is.EqualTo(BrokerProgram.InvalidConfiguration));
        Assert.That(Directory.EnumerateFileSystemEntries(_dir), Is.Empty);
    }

    [Test]
    public async Task Check_of_a_data_directory_that_does_not_exist_does_not_create_it()
    {
        var missing = Path.Combine(_dir, "not-yet");
        var settings = Settings();
        settings["JitBroker:DataDirectory"] = missing;

        Assert.That(await CheckAsync(settings), Is.EqualTo(BrokerProgram.Ok));
        Assert.That(Directory.Exists(missing), Is.False);
    }

    [Test]
    public void Nonsense_refuses_to_start_and_start_up_writes_nothing_before_refusing()
    {
        var ex = Assert.Throws<InvalidBrokerConfigurationException>(() =>
            BrokerHost.Build([], c => c.AddInMemoryCollection(Settings(("JitBroker:Broker:MaxTtl", "3.00:00:00")))).DisposeAsync().AsTask().GetAwaiter().GetResult());

        Assert.That(ex!.Errors, Has.Some.StartsWith("JitBroker:Broker:MaxTtl"));
        Assert.That(Directory.EnumerateFileSystemEntries(_dir), Is.Empty, "validation comes before the embedded profile creates its files");
    }

    [Test]
    public async Task Start_up_creates_the_embedded_files_that_check_leaves_alone_and_check_then_accepts_them()
    {
        await BrokerHost.Build([], c => c.AddInMemoryCollection(Settings())).DisposeAsync();
        var created = Directory.EnumerateFileSystemEntries(_dir).Select(Path.GetFileName).ToList();

        Assert.That(created, Does.Contain("dev-trust-domain").And.Contain(SigningKeyOptions.GeneratedKeyFileName));
        Assert.That(await CheckAsync(Settings()), Is.EqualTo(BrokerProgram.Ok), "the existing signing key is read and accepted");
    }

    [Test]
    public void An_unreadable_signing_key_is_found_by_check()
    {
        var key = Path.Combine(_dir, "key.pem");
        File.WriteAllText(key, "not a key");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite); // so the content, not the mode, is what is refused
        }

        Assert.That(Errors(("JitBroker:SigningKey:PrivateKeyPemPath", key)), Has.Some.StartsWith("JitBroker:SigningKey"));
    }

    [Test]
    public void A_previous_public_key_that_cannot_be_read_is_found_by_check_before_any_key_is_generated()
    {
        var errors = Errors(("JitBroker:SigningKey:PreviousPublicKeyPemPaths:0", Path.Combine(_dir, "missing.pem")));

        Assert.That(errors, Has.Some.StartsWith("JitBroker:SigningKey").And.Contain("missing.pem"));
        Assert.That(Directory.EnumerateFileSystemEntries(_dir), Is.Empty);
    }

    [TestCase("JitBroker:Issuer:Issuer", "ftp://broker.example", "JitBroker:Issuer:Issuer")]
    [TestCase("JitBroker:SigningKey:PreviousPublicKeyPemPaths:0", " ", "JitBroker:SigningKey:PreviousPublicKeyPemPaths")]
    [TestCase("JitBroker:Broker:MinTtl", "00:00:00", "JitBroker:Broker:MinTtl")]
    [TestCase("JitBroker:Revocation:BatchSize", "0", "JitBroker:Revocation:BatchSize")]
    [TestCase("JitBroker:Audit:MaxBatchSize", "0", "JitBroker:Audit:MaxBatchSize")]
    [TestCase("JitBroker:Policy:ReloadInterval", "00:00:00.500", "JitBroker:Policy:ReloadInterval")]
    [TestCase("JitBroker:Vault:Address", "https://vault.example/some/path", "JitBroker:Vault:Address")]
    [TestCase("JitBroker:Attestation:JwtSvid:Leeway", "01:00:00", "JitBroker:Attestation:JwtSvid:Leeway")]
    public void An_error_names_its_key_by_the_full_configuration_path(string key, string value, string path)
    {
        var errors = Errors((key, value));

        Assert.That(errors, Has.Some.StartsWith(path + " "), string.Join("\n", errors));
    }

    [Test]
    public void Redis_errors_name_the_full_configuration_path_too()
    {
        var errors = Errors(("JitBroker:Leases:Store", "redis"), ("JitBroker:Redis:Endpoint", "127.0.0.1:6379"), ("JitBroker:Redis:Buckets", "0"));

        Assert.That(errors, Has.Some.StartsWith("JitBroker:Redis:Buckets "), string.Join("\n", errors));
    }
}
