using JitBroker.Conformance;
using JitBroker.Core;
using JitBroker.Vault.Auth;
using JitBroker.Vault.Issuers;
using JitBroker.Vault.Tests.Fakes;
using JitBroker.Vault.Tests.Infrastructure;
using NUnit.Framework;

namespace JitBroker.Vault.Tests.Conformance;

/// <summary>The Vault issuers against the issuer contract, over the in-test Vault HTTP server (a sealed Vault is the broken backend).</summary>
public abstract class VaultIssuerConformanceTests : CredentialIssuerConformanceTests
{
    private string? _dir;
    private VaultHttpClient? _client;
    private VaultSession? _session;

    protected FakeVault Vault { get; private set; } = null!;

    protected override bool RenewalReplacesTheSecret => false;

    protected override bool RevocationReachesTheBackend => true;

    protected override async Task<ICredentialIssuer> CreateIssuerAsync()
    {
        Vault = await FakeVault.StartAsync();
        _dir = Directory.CreateTempSubdirectory("jitbroker-vault-conformance-").FullName;
        var tokenPath = Path.Combine(_dir, "vault-token");
        await File.WriteAllTextAsync(tokenPath, Vault.RootToken + "\n");
        var options = new VaultOptions
        {
            Address = Vault.Address,
            Timeout = TimeSpan.FromSeconds(2),
            Auth = new VaultAuthOptions { Method = VaultAuthMethod.Token, TokenPath = tokenPath },
            AllowedSecretPathPrefixes = ["database/creds/"],
        };
        var logs = new CapturingLogs();
        _client = new VaultHttpClient(options, logs.For<VaultHttpClient>());
        _session = new VaultSession(_client, VaultServiceCollectionExtensions.CreateAuth(options.Auth), Clock, logs.For<VaultSession>(), options.RenewAtFractionOfTtl);
        return CreateIssuer(_session, options, logs);
    }

    protected abstract ICredentialIssuer CreateIssuer(VaultSession session, VaultOptions options, CapturingLogs logs);

    protected override async Task DestroyIssuerAsync()
    {
        _session?.Dispose();
        _client?.Dispose();
        await Vault.DisposeAsync();
        if (_dir is not null)
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    protected override void BreakBackend() => Vault.Sealed = true;

    protected override void MendBackend() => Vault.Sealed = false;
}

[TestFixture]
public sealed class VaultTokenIssuerConformanceTests : VaultIssuerConformanceTests
{
    protected override IReadOnlyDictionary<string, string> Parameters { get; } = new Dictionary<string, string>
    {
        [IssuerParameterNames.VaultPolicies] = "task-read",
        [IssuerParameterNames.VaultRenewable] = "true",
    };

    protected override ICredentialIssuer CreateIssuer(VaultSession session, VaultOptions options, CapturingLogs logs) =>
        new VaultTokenIssuer(session, options, Clock, logs.For<VaultTokenIssuer>());

    // An operator revoked the token, or it expired: Vault answers "invalid accessor" from then on.
    protected override Task ForgetAtBackendAsync(IssuedCredential credential)
    {
        Vault.Revoke(Vault.TokenByAccessor(credential.BackendHandle)!);
        return Task.CompletedTask;
    }
}

[TestFixture]
public sealed class VaultSecretIssuerConformanceTests : VaultIssuerConformanceTests
{
    private const string SecretPath = "database/creds/readonly";

    protected override IReadOnlyDictionary<string, string> Parameters { get; } = new Dictionary<string, string>
    {
        [IssuerParameterNames.VaultSecretPath] = SecretPath,
    };

    protected override ICredentialIssuer CreateIssuer(VaultSession session, VaultOptions options, CapturingLogs logs)
    {
        Vault.AddEngine(SecretPath, leaseDuration: 3600);
        return new VaultSecretIssuer(session, options, Clock, logs.For<VaultSecretIssuer>());
    }

    // The Vault lease expired and Vault tidied it away.
    protected override Task ForgetAtBackendAsync(IssuedCredential credential)
    {
        Vault.Leases.TryRemove(credential.BackendHandle, out _);
        return Task.CompletedTask;
    }
}
