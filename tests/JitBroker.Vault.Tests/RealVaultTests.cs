using JitBroker.Core;
using Microsoft.Extensions.Time.Testing;
using JitBroker.Vault.Auth;
using JitBroker.Vault.Issuers;
using JitBroker.Vault.Tests.Infrastructure;
using NUnit.Framework;

namespace JitBroker.Vault.Tests;

/// <summary>
/// OPT-IN round trips against a real Vault (for example <c>vault server -dev</c>). Set
/// <c>JITBROKER_VAULT_ADDR</c> (e.g. http://127.0.0.1:8200) and <c>JITBROKER_VAULT_TOKEN</c> (the dev root token);
/// optionally <c>JITBROKER_VAULT_NAMESPACE</c> and <c>JITBROKER_VAULT_CACERT</c>. Without them every test here is
/// reported Ignored with the reason — the only place in this suite where Assert.Ignore is used.
/// </summary>
[NonParallelizable]
public sealed class RealVaultTests
{
    private string _dir = null!;
    private VaultOptions _options = null!;
    private CapturingLogs _logs = null!;
    private VaultSession _session = null!;
    private FakeTimeProvider _clock = null!;

    [SetUp]
    public void SetUp()
    {
        var address = Environment.GetEnvironmentVariable("JITBROKER_VAULT_ADDR");
        var token = Environment.GetEnvironmentVariable("JITBROKER_VAULT_TOKEN");
        if (string.IsNullOrWhiteSpace(address) || string.IsNullOrWhiteSpace(token))
        {
            Assert.Ignore("Real-Vault tests are opt-in: set JITBROKER_VAULT_ADDR and JITBROKER_VAULT_TOKEN (see docs/vault.md).");
        }

        _dir = Directory.CreateTempSubdirectory("jitbroker-real-vault-").FullName;
        var tokenPath = Path.Combine(_dir, "token");
        File.WriteAllText(tokenPath, token);
        _options = new VaultOptions
        {
            Address = new Uri(address),
            Namespace = Environment.GetEnvironmentVariable("JITBROKER_VAULT_NAMESPACE"),
            CaCertificatePath = Environment.GetEnvironmentVariable("JITBROKER_VAULT_CACERT"),
            Auth = new VaultAuthOptions { Method = VaultAuthMethod.Token, TokenPath = tokenPath },
            AllowedSecretPathPrefixes = ["database/creds/"],
        };
        Assert.That(_options.Validate(), Is.Empty);
        _logs = new CapturingLogs();
        // Real Vault ages tokens by its own clock; the fake clock only drives the broker's renewal timer.
        _clock = new FakeTimeProvider(TimeProvider.System.GetUtcNow());
        _session = new VaultSession(new VaultHttpClient(_options, _logs.For<VaultHttpClient>()), VaultServiceCollectionExtensions.CreateAuth(_options.Auth),
            _clock, _logs.For<VaultSession>(), _options.RenewAtFractionOfTtl);
    }

    [TearDown]
    public void TearDown()
    {
        if (_dir is null)
        {
            return;
        }

        _session.Client.Dispose();
        _session.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Test]
    public async Task Vault_is_reachable()
    {
        Assert.That(await new VaultReadiness(_session.Client).IsReachableAsync(), Is.True);
    }

    [Test]
    public async Task Vault_token_round_trip_issue_lookup_revoke_and_already_gone()
    {
        var issuer = new VaultTokenIssuer(_session, _options, _clock, _logs.For<VaultTokenIssuer>());
        var request = new IssueRequest(LeaseIds.New(), new WorkloadIdentity
        {
            Id = "spiffe://example.org/agents/real-vault-test", TrustDomain = "example.org", Method = "jwt-svid", EvidenceFingerprint = "sha256:00",
        }, "real-vault-task", new Grant(VaultTokenIssuer.KindName, new GrantedScope("vault", "read", [], []), TimeSpan.FromSeconds(120),
            new Dictionary<string, string> { [IssuerParameterNames.VaultPolicies] = "default" }));

        var credential = await issuer.IssueAsync(request);

        // The minted token works on its own: lookup-self as the agent would.
        using var agentClient = new VaultHttpClient(_options);
        var self = await agentClient.SendAsync(HttpMethod.Get, "auth/token/lookup-self", credential.Secret);
        var data = self.Body!.Data!.Value;
        Assert.Multiple(() =>
        {
            Assert.That(data.GetProperty("accessor").GetString(), Is.EqualTo(credential.BackendHandle));
            Assert.That(data.GetProperty("meta").GetProperty("lease_id").GetString(), Is.EqualTo(request.LeaseId));
            Assert.That(data.GetProperty("ttl").GetInt64(), Is.InRange(100, 120));
            Assert.That(data.GetProperty("renewable").GetBoolean(), Is.False);
        });

        var lease = new Lease
        {
            LeaseId = request.LeaseId, TaskId = request.TaskId, AgentId = request.Agent.Id, IssuerKind = credential.Kind,
            BackendHandle = credential.BackendHandle, Scope = request.Grant.Scope, IssuedAt = credential.IssuedAt,
            ExpiresAt = credential.ExpiresAt, CredentialFingerprint = credential.Fingerprint,
        };
        Assert.That(await issuer.RevokeAsync(lease), Is.EqualTo(RevocationResult.Revoked));
        Assert.That(await issuer.RevokeAsync(lease), Is.EqualTo(RevocationResult.AlreadyGone), "Vault says 400 invalid accessor");
        var refused = Assert.ThrowsAsync<VaultException>(async () => await agentClient.SendAsync(HttpMethod.Get, "auth/token/lookup-self", credential.Secret));
        Assert.That(refused!.Kind, Is.EqualTo(VaultErrorKind.PermissionDenied));
        Assert.That(_logs.All, Does.Not.Contain(credential.Secret));
    }

    [Test]
    public async Task Sys_leases_revoke_with_sync_of_an_unknown_lease_is_done()
    {
        // A dev server has no database engine; revoking a lease id Vault never issued exercises sys/leases/revoke's
        // documented no-op (204) path and the broker's body shape (lease_id + sync).
        var issuer = new VaultSecretIssuer(_session, _options, _clock, _logs.For<VaultSecretIssuer>());
        var lease = new Lease
        {
            LeaseId = LeaseIds.New(), TaskId = "t", AgentId = "a", IssuerKind = VaultSecretIssuer.KindName,
            BackendHandle = "database/creds/readonly/" + Guid.NewGuid().ToString("N"), Scope = new GrantedScope("db", "read", [], []),
            IssuedAt = _clock.GetUtcNow(), ExpiresAt = _clock.GetUtcNow().AddMinutes(1), CredentialFingerprint = "sha256:00",
        };

        Assert.That((await issuer.RevokeAsync(lease)).IsDone, Is.True);
    }

    [Test]
    public void A_kv_read_is_refused_as_not_leased_or_not_allowed()
    {
        var issuer = new VaultSecretIssuer(_session, _options, _clock, _logs.For<VaultSecretIssuer>());
        var request = new IssueRequest(LeaseIds.New(), new WorkloadIdentity { Id = "a", TrustDomain = "t", Method = "m", EvidenceFingerprint = "f" }, "t",
            new Grant(VaultSecretIssuer.KindName, new GrantedScope("kv", "read", [], []), TimeSpan.FromMinutes(1),
                new Dictionary<string, string> { [IssuerParameterNames.VaultSecretPath] = "secret/data/jitbroker" }));

        var error = Assert.ThrowsAsync<BrokerException>(async () => await issuer.IssueAsync(request));

        Assert.That(error!.Reason, Is.EqualTo(Reasons.Vault.PathNotAllowed));
    }
}
