using JitBroker.Core;
using JitBroker.Testing;
using Microsoft.Extensions.Time.Testing;
using JitBroker.Vault.Auth;
using JitBroker.Vault.Issuers;
using JitBroker.Vault.Tests.Fakes;
using NUnit.Framework;

namespace JitBroker.Vault.Tests.Infrastructure;

/// <summary>A fresh fake Vault, fake clock, captured logs and temp directory per test.</summary>
public abstract class VaultTestBase
{
    private readonly List<IDisposable> _owned = [];

    protected FakeVault Vault { get; private set; } = null!;

    protected FakeTimeProvider Clock { get; private set; } = null!;

    protected CapturingLogs Logs { get; private set; } = null!;

    protected string Dir { get; private set; } = null!;

    protected static WorkloadIdentity Agent { get; } = new()
    {
        Id = "spiffe://example.org/agents/report-writer",
        TrustDomain = "example.org",
        Method = "jwt-svid",
        EvidenceFingerprint = "sha256:00",
    };

    [SetUp]
    public async Task StartVaultAsync()
    {
        Vault = await FakeVault.StartAsync();
        Clock = TestClock.Create();
        Logs = new CapturingLogs();
        Dir = Directory.CreateTempSubdirectory("jitbroker-vault-").FullName;
    }

    [TearDown]
    public async Task StopVaultAsync()
    {
        foreach (var owned in _owned)
        {
            owned.Dispose();
        }

        await Vault.DisposeAsync();
        Directory.Delete(Dir, recursive: true);
    }

    protected string WriteFile(string name, string content)
    {
        var path = Path.Combine(Dir, name);
        File.WriteAllText(path, content + "\n");
        return path;
    }

    /// <summary>Options pointing at the fake, logging in with the root token from a file.</summary>
    protected VaultOptions Options(Action<VaultOptions>? configure = null)
    {
        var options = new VaultOptions
        {
            Address = Vault.Address,
            Timeout = TimeSpan.FromSeconds(2),
            Auth = new VaultAuthOptions { Method = VaultAuthMethod.Token, TokenPath = WriteFile("vault-token", Vault.RootToken) },
            AllowedSecretPathPrefixes = ["database/creds/"],
        };
        configure?.Invoke(options);
        Assert.That(options.Validate(), Is.Empty);
        return options;
    }

    protected VaultHttpClient Client(VaultOptions options) => Own(new VaultHttpClient(options, Logs.For<VaultHttpClient>()));

    protected VaultSession Session(VaultOptions? options = null, IVaultAuth? auth = null)
    {
        options ??= Options();
        return Own(new VaultSession(Client(options), auth ?? VaultServiceCollectionExtensions.CreateAuth(options.Auth), Clock,
            Logs.For<VaultSession>(), options.RenewAtFractionOfTtl));
    }

    protected VaultTokenIssuer TokenIssuer(VaultSession session, VaultOptions? options = null) =>
        new(session, options ?? Options(), Clock, Logs.For<VaultTokenIssuer>());

    protected VaultSecretIssuer SecretIssuer(VaultSession session, VaultOptions? options = null) =>
        new(session, options ?? Options(), Clock, Logs.For<VaultSecretIssuer>());

    protected static IssueRequest Request(IReadOnlyDictionary<string, string> parameters, TimeSpan ttl, string kind = VaultTokenIssuer.KindName, string taskId = "task-42") =>
        new(LeaseIds.New(), Agent, taskId, new Grant(kind, new GrantedScope("postgres", "read", [], []), ttl, parameters));


    protected T Own<T>(T disposable) where T : IDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }
}
