using System.Text.Json;
using JitBroker.Cli;
using JitBroker.Core;
using JitBroker.Protocol.V1;
using JitBroker.Vault.Tests.Fakes;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// Issue 6: both Vault issuer kinds end to end through RequestCredential/EndTask on a running broker, selected by
/// policy templates, against an in-test Vault (the Vault.Tests fake, linked in) — and the failure paths: Vault
/// down at issue, Vault down at revoke (revoke_failed visible in jitctl, then swept once Vault is back).
/// </summary>
[NonParallelizable]
public sealed class VaultE2ETests
{
    private const string SecretPath = "database/creds/readonly";
    private const string Deployer = "spiffe://dev.jitbroker.local/agents/deployer";
    private const string Reporter = "spiffe://dev.jitbroker.local/agents/reporter";

    private FakeVault _vault = null!;
    private PolicyDirectory _policy = null!;
    private BrokerServerFixture _broker = null!;
    private BrokerClient _client = null!;
    private AdminClient _admin = null!;
    private string _secrets = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _vault = await FakeVault.StartAsync();
        _vault.AddEngine(SecretPath, leaseDuration: 3600);
        _policy = new PolicyDirectory().Write("30-vault.yaml", """
            version: 1
            rules:
              - id: deployer-vault-token
                effect: allow
                principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/agents/deployer"] }
                actions: ["deploy.run"]
                credential: { kind: vault-token, targets: ["vault"], policies: [task-read], max_ttl: 10m }
              - id: reporter-db
                effect: allow
                principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/agents/reporter"] }
                actions: ["db.read"]
                credential: { kind: vault-secret, targets: ["postgres-reporting"], path: database/creds/readonly, max_ttl: 10m }
            """);
        _secrets = Directory.CreateTempSubdirectory("jitbroker-vault-login-").FullName;
        var tokenFile = Path.Combine(_secrets, "token");
        await File.WriteAllTextAsync(tokenFile, _vault.RootToken);
        _broker = await BrokerServerFixture.StartAsync(new Dictionary<string, string?>
        {
            ["JitBroker:Admin:Principals:0"] = E2E.AdminPattern,
            ["JitBroker:Policy:Path"] = _policy.Path,
            ["JitBroker:Vault:Address"] = _vault.Address.ToString().TrimEnd('/'),
            ["JitBroker:Vault:Timeout"] = "00:00:03",
            ["JitBroker:Vault:Auth:Method"] = "Token",
            ["JitBroker:Vault:Auth:TokenPath"] = tokenFile,
            ["JitBroker:Vault:AllowedSecretPathPrefixes:0"] = "database/creds/",
            ["JitBroker:Revocation:SweepInterval"] = "00:00:00.200",
            ["JitBroker:Broker:RetryInitialDelay"] = "00:00:00.200",
            ["JitBroker:Broker:RetryMaxDelay"] = "00:00:01",
        });
        _client = _broker.Client();
        _admin = E2E.Admin(_broker);
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        _admin.Dispose();
        _client.Dispose();
        await _broker.DisposeAsync();
        await _vault.DisposeAsync();
        _policy.Dispose();
        Directory.Delete(_secrets, recursive: true);
    }

    [TearDown]
    public void Unseal() => _vault.Sealed = false;

    private static RequestCredentialRequest DeployRequest(string task) =>
        BrokerClient.NewRequest(task, "deploy.run", "vault", ttl: TimeSpan.FromMinutes(2), kind: "vault-token");

    private static RequestCredentialRequest DbRequest(string task) =>
        BrokerClient.NewRequest(task, "db.read", "postgres-reporting", ttl: TimeSpan.FromMinutes(2), kind: "vault-secret");

    private async Task<Lease> StoredLeaseAsync(string leaseId) =>
        (await _broker.Services.GetRequiredService<ILeaseLedger>().GetAsync(leaseId))!;

    [Test]
    public async Task Vault_token_is_issued_scoped_kept_by_accessor_and_revoked_at_task_end()
    {
        var svid = _broker.Svid(Deployer);
        var issued = await _client.RequestCredentialAsync(svid, DeployRequest("vt-1"));

        Assert.That(issued.Credential.Kind, Is.EqualTo("vault-token"));
        var token = issued.Credential.Token;
        Assert.That(token, Does.StartWith("hvs."));
        var minted = _vault.Tokens[token];
        Assert.That(minted.Policies, Does.Contain("task-read").And.Not.Contain("root"));
        Assert.That(minted.Meta, Does.ContainKey("task_id").WithValue("vt-1").And.ContainKey("lease_id").WithValue(issued.LeaseId));
        Assert.That(minted.ExplicitMaxTtl, Is.EqualTo(120), "Vault itself will not let the token outlive the grant");

        var listed = (await _admin.ListLeasesAsync(new ListLeasesRequest { TaskId = "vt-1" })).Leases.Single();
        Assert.That(listed.IssuerKind, Is.EqualTo("vault-token"));
        Assert.That(listed.ToString(), Does.Not.Contain(token), "the admin view holds no secret");
        var stored = await StoredLeaseAsync(issued.LeaseId);
        Assert.That(stored.BackendHandle, Is.EqualTo(minted.Accessor), "the lease keeps the accessor, never the token");
        Assert.That(stored.CredentialFingerprint, Is.EqualTo(Fingerprints.Of(token)));

        var ended = await _client.EndTaskAsync(svid, "vt-1");
        Assert.That(ended.Leases.Single().Outcome, Is.EqualTo(LeaseOutcome.Types.Outcome.Revoked));
        Assert.That(minted.Revoked, Is.True, "revoked at Vault");
        Assert.That(_vault.RequestsTo("auth/token/revoke-accessor").Select(r => JsonDocument.Parse(r.Body).RootElement.GetProperty("accessor").GetString()),
            Does.Contain(minted.Accessor));
    }

    [Test]
    public async Task Vault_dynamic_secret_is_issued_kept_by_vault_lease_id_and_revoked_synchronously_at_task_end()
    {
        var svid = _broker.Svid(Reporter);
        var issued = await _client.RequestCredentialAsync(svid, DbRequest("vs-1"));

        Assert.That(issued.Credential.Kind, Is.EqualTo("vault-secret"));
        var secret = JsonDocument.Parse(issued.Credential.Token).RootElement;
        var password = secret.GetProperty("password").GetString()!;
        Assert.That(secret.GetProperty("username").GetString(), Does.StartWith("v-jit-"));
        var handle = (await StoredLeaseAsync(issued.LeaseId)).BackendHandle;
        Assert.That(_vault.Leases.TryGetValue(handle, out var vaultLease), Is.True, "the broker lease keeps Vault's lease_id");
        Assert.That(vaultLease!.Path, Is.EqualTo(SecretPath));

        var listed = (await _admin.ListLeasesAsync(new ListLeasesRequest { TaskId = "vs-1" })).Leases.Single();
        Assert.That(listed.IssuerKind, Is.EqualTo("vault-secret"));
        Assert.That(listed.ToString(), Does.Not.Contain(password));
        Assert.That((await StoredLeaseAsync(issued.LeaseId)).ToString(), Does.Not.Contain(password), "the broker's lease record holds no secret value");

        var ended = await _client.EndTaskAsync(svid, "vs-1");
        Assert.That(ended.Leases.Single().Outcome, Is.EqualTo(LeaseOutcome.Types.Outcome.Revoked));
        Assert.That(_vault.Leases.ContainsKey(vaultLease.LeaseId), Is.False, "revoked at Vault");
        // The lease id in the URL: the broker's Vault policy grants revocation only under the prefixes it issues from.
        var revoke = JsonDocument.Parse(_vault.RequestsTo("sys/leases/revoke/" + vaultLease.LeaseId).Single().Body).RootElement;
        Assert.That(revoke.GetProperty("sync").GetBoolean(), Is.True, "sync is sent explicitly");
    }

    [Test]
    public async Task Vault_down_at_issue_is_unavailable_and_leaves_no_lease()
    {
        var before = (await E2E.LeasesOfAsync(_admin, Reporter)).Count;
        _vault.Sealed = true;

        var ex = Assert.ThrowsAsync<RpcException>(() => _client.RequestCredentialAsync(_broker.Svid(Reporter), DbRequest("vs-down")));
        Assert.That(ex!.StatusCode, Is.EqualTo(StatusCode.Unavailable));
        Assert.That((await E2E.LeasesOfAsync(_admin, Reporter)).Count, Is.EqualTo(before), "no lease for a credential that was never issued");

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var ready = await http.GetAsync(new Uri(_broker.HttpUri, "/readyz"));
        Assert.That((int)ready.StatusCode, Is.EqualTo(503));
        Assert.That(await ready.Content.ReadAsStringAsync(), Does.Contain("vault"));

        _vault.Sealed = false;
        Assert.That((int)(await http.GetAsync(new Uri(_broker.HttpUri, "/readyz"))).StatusCode, Is.EqualTo(200));
        Assert.That((await _client.RequestCredentialAsync(_broker.Svid(Reporter), DbRequest("vs-up"))).LeaseId, Does.StartWith("lease_"));
    }

    [Test]
    public async Task Vault_down_at_revoke_shows_revoke_failed_in_jitctl_until_the_sweeper_revokes_it()
    {
        var svid = _broker.Svid(Deployer);
        var issued = await _client.RequestCredentialAsync(svid, DeployRequest("vt-down"));
        var minted = _vault.Tokens[issued.Credential.Token];
        _vault.Sealed = true;

        var ended = await _client.EndTaskAsync(svid, "vt-down");
        Assert.That(ended.Leases.Single().Outcome, Is.EqualTo(LeaseOutcome.Types.Outcome.Failed));
        Assert.That(ended.Leases.Single().Error, Does.Not.Contain(issued.Credential.Token));

        // The sweeper keeps retrying while Vault is down; a listing that lands while it holds the lease (state revoking) is asked again.
        CliResult failed = null!;
        Assert.That(await Eventually.TrueAsync(async () =>
        {
            failed = await Jitctl.RunAsync(_broker.GrpcUri, E2E.AdminSvid(_broker), "leases", "--failed", "--kind", "vault-token", "--json");
            return failed.Code == 0 && E2E.LeasesIn(failed).Any(l => l.GetProperty("leaseId").GetString() == issued.LeaseId);
        }, TimeSpan.FromSeconds(10)), Is.True, () => "jitctl leases --failed lists the lease\n" + failed);
        var row = E2E.LeasesIn(failed).Single(l => l.GetProperty("leaseId").GetString() == issued.LeaseId);
        Assert.That(row.GetProperty("state").GetString(), Is.EqualTo("revoke_failed"));
        Assert.That(row.GetProperty("attempts").GetInt32(), Is.GreaterThanOrEqualTo(1));
        Assert.That(row.GetProperty("lastError").GetString(), Is.Not.Empty);
        Assert.That(failed.Out, Does.Not.Contain(issued.Credential.Token));
        Assert.That(minted.Revoked, Is.False, "Vault was down: the token still lives there");
        Assert.That(await Eventually.TrueAsync(async () => (await Jitctl.RunAsync(_broker.GrpcUri, E2E.AdminSvid(_broker), "leases", "--failed")).Out.Contains(issued.LeaseId,
            StringComparison.Ordinal), TimeSpan.FromSeconds(10)), Is.True, "the table shows it too");

        _vault.Sealed = false;
        Assert.That(await Eventually.TrueAsync(async () => (await StoredLeaseAsync(issued.LeaseId)).State == LeaseState.Revoked, TimeSpan.FromSeconds(15)),
            Is.True, "the sweeper retries until Vault revokes it");
        Assert.That(minted.Revoked, Is.True);
        Assert.That(E2E.LeasesIn(await Jitctl.RunAsync(_broker.GrpcUri, E2E.AdminSvid(_broker), "leases", "--failed", "--json"))
            .Select(l => l.GetProperty("leaseId").GetString()), Does.Not.Contain(issued.LeaseId));

        var audit = File.ReadAllText(Path.Combine(_broker.DataDirectory, "audit.jsonl"));
        Assert.That(audit, Does.Contain("\"revocation.failed\"").And.Not.Contain(issued.Credential.Token), "the failed attempt is audited, the token never");
    }
}
