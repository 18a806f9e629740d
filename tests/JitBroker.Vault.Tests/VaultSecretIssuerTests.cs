using JitBroker.Testing;
using System.Text.Json;
using JitBroker.Core;
using JitBroker.Vault.Issuers;
using JitBroker.Vault.Tests.Fakes;
using JitBroker.Vault.Tests.Infrastructure;
using NUnit.Framework;

namespace JitBroker.Vault.Tests;

public sealed class VaultSecretIssuerTests : VaultTestBase
{
    private const string DbPath = "database/creds/readonly";

    private static IssueRequest SecretRequest(string path, int ttlSeconds) =>
        Request(new Dictionary<string, string> { [IssuerParameterNames.VaultSecretPath] = path }, TimeSpan.FromSeconds(ttlSeconds), VaultSecretIssuer.KindName);

    [Test]
    public async Task Issue_reads_the_path_keeps_the_lease_id_and_hands_the_data_to_the_agent_as_compact_json()
    {
        Vault.AddEngine(DbPath, leaseDuration: 3600);
        var issuer = SecretIssuer(Session());

        var credential = await issuer.IssueAsync(SecretRequest(DbPath, 300));

        var read = Vault.RequestsTo(DbPath).Single();
        var lease = Vault.Leases.Values.Single();
        using var secret = JsonDocument.Parse(credential.Secret);
        Assert.Multiple(() =>
        {
            Assert.That(read.Method, Is.EqualTo("GET"));
            Assert.That(read.Header("X-Vault-Token"), Is.EqualTo(Vault.RootToken));
            Assert.That(credential.Kind, Is.EqualTo("vault-secret"));
            Assert.That(credential.BackendHandle, Is.EqualTo(lease.LeaseId));
            Assert.That(secret.RootElement.GetProperty("username").GetString(), Does.StartWith("v-jit-"));
            Assert.That(secret.RootElement.GetProperty("password").GetString(), Does.StartWith("pw-"));
            Assert.That(credential.Secret, Does.Not.Contain(" ").And.Not.Contain("\n"), "compact JSON");
            Assert.That(credential.ExpiresAt - credential.IssuedAt, Is.EqualTo(TimeSpan.FromSeconds(300)),
                "Vault's lease is longer than the grant: the broker still revokes at its own TTL");
        });
    }

    [Test]
    public async Task A_lease_shorter_than_the_grant_is_the_expiry_reported()
    {
        Vault.AddEngine(DbPath, leaseDuration: 60);

        var credential = await SecretIssuer(Session()).IssueAsync(SecretRequest(DbPath, 300));

        Assert.That(credential.ExpiresAt - credential.IssuedAt, Is.EqualTo(TimeSpan.FromSeconds(60)));
    }

    [Test]
    public async Task Revoke_sends_sync_true_explicitly_and_an_unknown_lease_counts_as_done()
    {
        Vault.AddEngine(DbPath, leaseDuration: 600);
        var issuer = SecretIssuer(Session());
        var request = SecretRequest(DbPath, 300);
        var credential = await issuer.IssueAsync(request);
        var vaultLease = Vault.Leases[credential.BackendHandle];

        var first = await issuer.RevokeAsync(IssuedLeases.For(request, credential));
        var again = await issuer.RevokeAsync(IssuedLeases.For(request, credential));

        // The lease id travels in the URL, so the broker's Vault policy can limit revocation to the prefixes it issues from.
        var revokes = Vault.RequestsTo("sys/leases/revoke/" + credential.BackendHandle);
        using var body = JsonDocument.Parse(revokes[0].Body);
        Assert.Multiple(() =>
        {
            Assert.That(revokes[0].Method, Is.EqualTo("PUT"));
            Assert.That(Vault.RequestsTo("sys/leases/revoke"), Is.Empty, "never the body form, which needs all of sys/leases/revoke");
            Assert.That(body.RootElement.GetProperty("sync").ValueKind, Is.EqualTo(JsonValueKind.True));
            Assert.That(vaultLease.Revoked, Is.True);
            Assert.That(first.IsDone, Is.True);
            Assert.That(again.IsDone, Is.True, "Vault answers 204 for a lease it no longer knows");
        });
    }

    [Test]
    public async Task A_Vault_that_queues_the_revocation_202_is_taken_as_done_and_logged()
    {
        Vault.AddEngine(DbPath, leaseDuration: 600);
        Vault.IgnoreRevokeSync = true;
        var issuer = SecretIssuer(Session());
        var request = SecretRequest(DbPath, 300);
        var credential = await issuer.IssueAsync(request);

        var result = await issuer.RevokeAsync(IssuedLeases.For(request, credential));

        Assert.That(result, Is.EqualTo(RevocationResult.Revoked));
        Assert.That(Logs.All, Does.Contain("VaultRevocationQueued"));
    }

    [TestCase(500, "failed to revoke entry: connection refused")]
    [TestCase(503, "Vault is sealed")]
    [TestCase(502, "upstream rate limited")]
    [TestCase(400, "lease_id must be specified")]
    public async Task Vault_failing_at_revoke_is_failed_and_retried_later(int status, string error)
    {
        Vault.AddEngine(DbPath, leaseDuration: 600);
        var issuer = SecretIssuer(Session());
        var request = SecretRequest(DbPath, 300);
        var credential = await issuer.IssueAsync(request);
        Vault.Enqueue(new Fault("sys/leases/revoke", FaultKind.Status, status, [error]));

        var result = await issuer.RevokeAsync(IssuedLeases.For(request, credential));

        Assert.Multiple(() =>
        {
            Assert.That(result.Status, Is.EqualTo(RevocationStatus.Failed));
            Assert.That(result.Error, Does.Contain("sys/leases/revoke").And.Contain(error));
            Assert.That(result.Error, Does.Not.Contain(Vault.RootToken).And.Not.Contain(credential.Secret));
            Assert.That(Vault.Leases[credential.BackendHandle].Revoked, Is.False);
        });
    }

    [TestCase("../sys/raw/core", Reasons.Vault.TemplateInvalid)]
    [TestCase("database/../sys/raw", Reasons.Vault.TemplateInvalid)]
    [TestCase("/database/creds/readonly", Reasons.Vault.TemplateInvalid)]
    [TestCase("database//creds/readonly", Reasons.Vault.TemplateInvalid)]
    [TestCase("database/creds/readonly?list=true", Reasons.Vault.TemplateInvalid)]
    [TestCase("database/creds/", Reasons.Vault.TemplateInvalid)]
    [TestCase("kv/data/app", Reasons.Vault.PathNotAllowed)]
    [TestCase("database/credsX/readonly", Reasons.Vault.PathNotAllowed)]
    public void Paths_outside_the_allowed_prefixes_or_escaping_their_mount_never_reach_Vault(string path, string reason)
    {
        var error = Assert.ThrowsAsync<BrokerException>(async () => await SecretIssuer(Session()).IssueAsync(SecretRequest(path, 300)));

        Assert.That((error!.Failure, error.Reason), Is.EqualTo((BrokerFailure.FailedPrecondition, reason)));
        Assert.That(Vault.Requests, Is.Empty);
    }

    [Test]
    public void A_static_secret_without_a_lease_is_refused()
    {
        Vault.AddEngine("database/creds/static", leaseDuration: 0, leased: false);

        var error = Assert.ThrowsAsync<BrokerException>(async () => await SecretIssuer(Session()).IssueAsync(SecretRequest("database/creds/static", 300)));

        Assert.That(error!.Reason, Is.EqualTo(Reasons.Vault.SecretNotLeased));
    }

    [Test]
    public void A_missing_path_and_a_denied_path_are_operator_actionable()
    {
        Vault.AddEngine("database/creds/denied", 600);
        Vault.DeniedPaths.Add("database/creds/denied");
        var issuer = SecretIssuer(Session());

        var missing = Assert.ThrowsAsync<BrokerException>(async () => await issuer.IssueAsync(SecretRequest("database/creds/nothing", 300)));
        var denied = Assert.ThrowsAsync<BrokerException>(async () => await issuer.IssueAsync(SecretRequest("database/creds/denied", 300)));

        Assert.Multiple(() =>
        {
            Assert.That((missing!.Failure, missing.Reason), Is.EqualTo((BrokerFailure.FailedPrecondition, Reasons.Vault.RequestRejected)));
            Assert.That(missing.Message, Does.Contain("database/creds/nothing"));
            Assert.That((denied!.Failure, denied.Reason), Is.EqualTo((BrokerFailure.FailedPrecondition, Reasons.Vault.PermissionDenied)));
            Assert.That(denied.Message, Does.Contain("'database/creds/denied'"));
            Assert.That(Vault.Leases, Is.Empty);
        });
    }

    [Test]
    public async Task Renewal_asks_for_the_increment_up_to_the_new_expiry_and_reports_what_Vault_granted()
    {
        Vault.AddEngine(DbPath, leaseDuration: 300, renewable: true, maxTtl: 400);
        var issuer = SecretIssuer(Session());
        var request = SecretRequest(DbPath, 300);
        var credential = await issuer.IssueAsync(request);
        Clock.Advance(TimeSpan.FromSeconds(200));

        var renewed = await issuer.RenewAsync(IssuedLeases.For(request, credential), Agent, Clock.GetUtcNow().AddSeconds(600));

        using var body = JsonDocument.Parse(Vault.RequestsTo("sys/leases/renew/" + credential.BackendHandle).Single().Body);
        Assert.Multiple(() =>
        {
            Assert.That(body.RootElement.GetProperty("increment").GetInt64(), Is.EqualTo(600));
            Assert.That(renewed.ExpiresAt, Is.EqualTo(Clock.GetUtcNow().AddSeconds(400)), "the engine's max TTL capped it");
            Assert.That(renewed.NewSecret, Is.Null);
        });
    }

    [Test]
    public async Task Renewing_a_non_renewable_or_unknown_lease_is_not_renewable()
    {
        Vault.AddEngine(DbPath, leaseDuration: 300, renewable: false);
        var issuer = SecretIssuer(Session());
        var request = SecretRequest(DbPath, 300);
        var credential = await issuer.IssueAsync(request);
        var lease = IssuedLeases.For(request, credential);

        var notRenewable = Assert.ThrowsAsync<BrokerException>(async () => await issuer.RenewAsync(lease, Agent, Clock.GetUtcNow().AddSeconds(60)));
        await issuer.RevokeAsync(lease);
        var gone = Assert.ThrowsAsync<BrokerException>(async () => await issuer.RenewAsync(lease, Agent, Clock.GetUtcNow().AddSeconds(60)));

        Assert.That(notRenewable!.Reason, Is.EqualTo(Reasons.Vault.NotRenewable));
        Assert.That(gone!.Reason, Is.EqualTo(Reasons.Vault.NotRenewable));
        Assert.That(gone.Message, Does.Contain("lease not found"));
    }
}
