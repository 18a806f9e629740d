using JitBroker.Core;
using JitBroker.Testing;
using JitBroker.Vault.Issuers;
using JitBroker.Vault.Tests.Fakes;
using JitBroker.Vault.Tests.Infrastructure;
using NUnit.Framework;

namespace JitBroker.Vault.Tests;

/// <summary>
/// Before acting on a Vault handle the broker checks it issued it (issue 17 item 7): someone who can write the lease
/// store must not be able to make the broker revoke or renew another service's Vault token or lease.
/// </summary>
[TestFixture]
public sealed class VaultHandleProvenanceTests : VaultTestBase
{
    private const string DbPath = "database/creds/readonly";
    private static readonly Dictionary<string, string> ReadPolicy = new() { [IssuerParameterNames.VaultPolicies] = "task-read" };

    [Test]
    public async Task A_token_lease_pointed_at_another_services_accessor_is_not_revoked_at_Vault()
    {
        var issuer = TokenIssuer(Session());
        var request = Request(ReadPolicy, TimeSpan.FromMinutes(5));
        var own = await issuer.IssueAsync(request);
        var foreign = ForeignToken(new() { ["service"] = "billing" });
        var tampered = IssuedLeases.For(request, own) with { BackendHandle = foreign.Accessor };

        var result = await issuer.RevokeAsync(tampered);

        Assert.Multiple(() =>
        {
            Assert.That(result.Status, Is.EqualTo(RevocationStatus.Failed));
            Assert.That(result.Error, Does.Contain("metadata"));
            Assert.That(foreign.Revoked, Is.False, "another service's token survives");
            Assert.That(Vault.RequestsTo("auth/token/revoke-accessor"), Is.Empty);
        });
    }

    [Test]
    public async Task A_token_lease_pointed_at_the_accessor_of_another_broker_lease_is_not_revoked_either()
    {
        var issuer = TokenIssuer(Session());
        var first = Request(ReadPolicy, TimeSpan.FromMinutes(5));
        var second = Request(ReadPolicy, TimeSpan.FromMinutes(5));
        var firstToken = await issuer.IssueAsync(first);
        var secondToken = await issuer.IssueAsync(second);

        var result = await issuer.RevokeAsync(IssuedLeases.For(first, firstToken) with { BackendHandle = secondToken.BackendHandle });

        Assert.That(result.Status, Is.EqualTo(RevocationStatus.Failed));
        Assert.That(Vault.TokenByAccessor(secondToken.BackendHandle)!.Revoked, Is.False);
    }

    [Test]
    public async Task A_token_the_broker_issued_for_the_lease_is_still_revoked_after_the_metadata_check()
    {
        var issuer = TokenIssuer(Session());
        var request = Request(ReadPolicy, TimeSpan.FromMinutes(5));
        var token = await issuer.IssueAsync(request);

        var result = await issuer.RevokeAsync(IssuedLeases.For(request, token));

        Assert.That(result.IsDone, Is.True);
        Assert.That(Vault.TokenByAccessor(token.BackendHandle)!.Revoked, Is.True);
        Assert.That(Vault.TokenByAccessor(token.BackendHandle)!.Meta[VaultTokenIssuer.IssuedByMeta], Is.EqualTo(VaultTokenIssuer.IssuedByBroker));
    }

    [Test]
    public async Task A_secret_lease_pointed_outside_the_allowed_prefixes_is_not_revoked_or_renewed_at_Vault()
    {
        Vault.AddEngine(DbPath, leaseDuration: 600);
        Vault.AddEngine("aws/creds/billing", leaseDuration: 600);
        var issuer = SecretIssuer(Session());
        var request = Request(new Dictionary<string, string> { [IssuerParameterNames.VaultSecretPath] = DbPath }, TimeSpan.FromMinutes(5), kind: VaultSecretIssuer.KindName);
        var own = await issuer.IssueAsync(request);
        var foreign = new FakeLease { LeaseId = "aws/creds/billing/" + FakeIds.Random(24), Path = "aws/creds/billing", Duration = 600, Renewable = true, MaxTtl = 3600 };
        Vault.Leases[foreign.LeaseId] = foreign;
        var tampered = IssuedLeases.For(request, own) with { BackendHandle = foreign.LeaseId };

        var result = await issuer.RevokeAsync(tampered);
        var renewal = Assert.ThrowsAsync<BrokerException>(async () => await issuer.RenewAsync(tampered, Agent, Clock.GetUtcNow().AddMinutes(4)));

        Assert.Multiple(() =>
        {
            Assert.That(result.Status, Is.EqualTo(RevocationStatus.Failed));
            Assert.That(renewal!.Reason, Is.EqualTo(Reasons.Vault.HandleNotIssued));
            Assert.That(foreign.Revoked, Is.False);
            Assert.That(Vault.Requests.Where(r => r.Path.StartsWith("sys/leases/", StringComparison.Ordinal)), Is.Empty);
        });
    }

    [Test]
    public async Task A_handle_whose_MAC_did_not_verify_is_never_sent_to_Vault()
    {
        Vault.AddEngine(DbPath, leaseDuration: 600);
        var session = Session();
        var secrets = SecretIssuer(session);
        var tokens = TokenIssuer(session);
        var secretRequest = Request(new Dictionary<string, string> { [IssuerParameterNames.VaultSecretPath] = DbPath }, TimeSpan.FromMinutes(5), kind: VaultSecretIssuer.KindName);
        var tokenRequest = Request(ReadPolicy, TimeSpan.FromMinutes(5));
        var secretLease = IssuedLeases.For(secretRequest, await secrets.IssueAsync(secretRequest)) with { BackendHandleUntrusted = true };
        var tokenLease = IssuedLeases.For(tokenRequest, await tokens.IssueAsync(tokenRequest)) with { BackendHandleUntrusted = true };
        var before = Vault.Requests.Count;

        var secretResult = await secrets.RevokeAsync(secretLease);
        var tokenResult = await tokens.RevokeAsync(tokenLease);
        var renewal = Assert.ThrowsAsync<BrokerException>(async () => await tokens.RenewAsync(tokenLease, Agent, Clock.GetUtcNow().AddMinutes(4)));

        Assert.Multiple(() =>
        {
            Assert.That((secretResult.Status, tokenResult.Status), Is.EqualTo((RevocationStatus.Failed, RevocationStatus.Failed)));
            Assert.That(secretResult.Error, Does.Contain("integrity"));
            Assert.That(renewal!.Reason, Is.EqualTo(Reasons.Vault.HandleNotIssued));
            Assert.That(Vault.Requests.Count, Is.EqualTo(before), "nothing was sent to Vault");
        });
    }

    private FakeToken ForeignToken(Dictionary<string, string> meta)
    {
        var token = new FakeToken { Id = FakeIds.Token(), Accessor = FakeIds.Random(24), Policies = ["billing"], Meta = meta, Ttl = 3600, Orphan = true };
        Vault.Tokens[token.Id] = token;
        return token;
    }
}
