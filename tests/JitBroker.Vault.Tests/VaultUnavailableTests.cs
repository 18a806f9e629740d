using JitBroker.Testing;
using System.Diagnostics;
using JitBroker.Core;
using JitBroker.Vault.Issuers;
using JitBroker.Vault.Tests.Fakes;
using JitBroker.Vault.Tests.Infrastructure;
using NUnit.Framework;

namespace JitBroker.Vault.Tests;

/// <summary>Vault down at issue: the agent gets UNAVAILABLE and nothing is minted.</summary>
public sealed class VaultUnavailableTests : VaultTestBase
{
    public static IEnumerable<TestCaseData> Faults()
    {
        yield return new TestCaseData(new Fault("", FaultKind.Status, 503, ["Vault is sealed"])).SetName("sealed 503");
        yield return new TestCaseData(new Fault("", FaultKind.Status, 429, ["request path \"x\": rate limit quota exceeded"])).SetName("rate limited 429");
        yield return new TestCaseData(new Fault("", FaultKind.Status, 500, ["internal error"])).SetName("internal error 500");
        yield return new TestCaseData(new Fault("", FaultKind.Status, 502, ["upstream failed"])).SetName("backend failed 502");
        yield return new TestCaseData(new Fault("", FaultKind.Status, 412, ["missing required state"])).SetName("not yet consistent 412");
        yield return new TestCaseData(new Fault("", FaultKind.Status, 473, [])).SetName("performance standby 473");
        yield return new TestCaseData(new Fault("", FaultKind.Hang, Delay: TimeSpan.FromSeconds(10))).SetName("timeout");
        yield return new TestCaseData(new Fault("", FaultKind.Reset)).SetName("connection reset");
    }

    [TestCaseSource(nameof(Faults))]
    public async Task Vault_down_at_token_issue_is_unavailable_and_mints_nothing(Fault fault)
    {
        var session = Session(Options(o => o.Timeout = TimeSpan.FromMilliseconds(500)));
        await session.SendAsync(HttpMethod.Get, "auth/token/lookup-self", TimeSpan.Zero); // logged in before the fault
        Vault.Enqueue(fault with { PathPrefix = "auth/token/create" });
        var issuer = TokenIssuer(session);

        var watch = Stopwatch.StartNew();
        var error = Assert.ThrowsAsync<BrokerException>(async () =>
            await issuer.IssueAsync(Request(new Dictionary<string, string> { [IssuerParameterNames.VaultPolicies] = "task-read" }, TimeSpan.FromMinutes(5))));

        Assert.Multiple(() =>
        {
            Assert.That((error!.Failure, error.Reason), Is.EqualTo((BrokerFailure.Unavailable, Reasons.Vault.Unavailable)));
            Assert.That(error.Message, Does.Contain("no credential was issued"));
            Assert.That(Vault.Tokens, Has.Count.EqualTo(1), "only the broker's own token exists");
            Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)), "the client's timeout bounds a hanging Vault");
        });
    }

    [TestCaseSource(nameof(Faults))]
    public void Vault_down_at_secret_issue_is_unavailable_and_leases_nothing(Fault fault)
    {
        Vault.AddEngine("database/creds/readonly", 600);
        Vault.Enqueue(fault);
        var issuer = SecretIssuer(Session(Options(o => o.Timeout = TimeSpan.FromMilliseconds(500))));

        var error = Assert.ThrowsAsync<BrokerException>(async () => await issuer.IssueAsync(
            Request(new Dictionary<string, string> { [IssuerParameterNames.VaultSecretPath] = "database/creds/readonly" }, TimeSpan.FromMinutes(5), VaultSecretIssuer.KindName)));

        Assert.That((error!.Failure, error.Reason), Is.EqualTo((BrokerFailure.Unavailable, Reasons.Vault.Unavailable)));
        Assert.That(Vault.Leases, Is.Empty);
    }

    [Test]
    public async Task Vault_down_at_revoke_is_failed_and_the_lease_revoker_would_retry()
    {
        Vault.AddEngine("database/creds/readonly", 600);
        var issuer = SecretIssuer(Session(Options(o => o.Timeout = TimeSpan.FromMilliseconds(500))));
        var request = Request(new Dictionary<string, string> { [IssuerParameterNames.VaultSecretPath] = "database/creds/readonly" }, TimeSpan.FromMinutes(5), VaultSecretIssuer.KindName);
        var credential = await issuer.IssueAsync(request);
        Vault.Enqueue(new Fault("sys/leases/revoke", FaultKind.Reset));
        Vault.Enqueue(new Fault("sys/leases/revoke", FaultKind.Hang, Delay: TimeSpan.FromSeconds(10)));

        var reset = await issuer.RevokeAsync(IssuedLeases.For(request, credential));
        var timeout = await issuer.RevokeAsync(IssuedLeases.For(request, credential));
        var recovered = await issuer.RevokeAsync(IssuedLeases.For(request, credential));

        Assert.Multiple(() =>
        {
            Assert.That(reset.Status, Is.EqualTo(RevocationStatus.Failed));
            Assert.That(timeout.Status, Is.EqualTo(RevocationStatus.Failed));
            Assert.That(timeout.Error, Does.Contain("No answer within"));
            Assert.That(recovered, Is.EqualTo(RevocationResult.Revoked));
        });
    }
}
