using JitBroker.Testing;
using JitBroker.Core;
using JitBroker.Vault.Issuers;
using JitBroker.Vault.Tests.Fakes;
using JitBroker.Vault.Tests.Infrastructure;
using NUnit.Framework;

namespace JitBroker.Vault.Tests;

/// <summary>Secrets never reach a log line, an exception message or a ToString.</summary>
public sealed class VaultSecrecyTests : VaultTestBase
{
    [Test]
    public async Task No_token_credential_or_secret_value_appears_in_any_log_line_or_error()
    {
        Vault.AddEngine("database/creds/readonly", 600);
        Vault.AcceptedJwts.Add("eyJhbGciOiJSUzI1NiJ9.sa-token-payload.signature");
        Vault.TokenMountMaxTtl = 60; // warnings get logged
        var options = Options(o => o.Auth = new VaultAuthOptions
        {
            Method = VaultAuthMethod.Kubernetes, Role = "jitbroker",
            ServiceAccountTokenPath = WriteFile("sa", "eyJhbGciOiJSUzI1NiJ9.sa-token-payload.signature"),
        });
        var session = Session(options);
        var tokens = TokenIssuer(session, options);
        var secrets = SecretIssuer(session, options);
        var errors = new List<string>();

        var tokenRequest = Request(new Dictionary<string, string> { [IssuerParameterNames.VaultPolicies] = "task-read,unknown-policy" }, TimeSpan.FromMinutes(5));
        var token = await tokens.IssueAsync(tokenRequest);
        var secretRequest = Request(new Dictionary<string, string> { [IssuerParameterNames.VaultSecretPath] = "database/creds/readonly" }, TimeSpan.FromMinutes(5), VaultSecretIssuer.KindName);
        var secret = await secrets.IssueAsync(secretRequest);

        // The broker's token lost (403 → re-login → retry), then failures of every kind.
        Vault.Revoke(Vault.Tokens.Values.Single(t => t.Orphan && t.Id != Vault.RootToken && !t.Revoked));
        var again = await secrets.IssueAsync(secretRequest);
        Vault.Enqueue(new Fault("auth/token/revoke-accessor", FaultKind.Status, 500, ["storage failure"]));
        errors.Add((await tokens.RevokeAsync(IssuedLeases.For(tokenRequest, token))).Error!);
        Vault.Enqueue(new Fault("sys/leases/revoke", FaultKind.Reset));
        errors.Add((await secrets.RevokeAsync(IssuedLeases.For(secretRequest, secret))).Error!);
        Vault.Enqueue(new Fault("database/creds/readonly", FaultKind.Garbage));
        errors.Add(Assert.ThrowsAsync<BrokerException>(async () => await secrets.IssueAsync(secretRequest))!.ToString());
        Vault.AcceptedJwts.Clear();
        Vault.Revoke(Vault.Tokens.Values.Single(t => t.Orphan && t.Id != Vault.RootToken && !t.Revoked));
        errors.Add(Assert.ThrowsAsync<BrokerException>(async () => await tokens.IssueAsync(tokenRequest))!.ToString());

        var forbidden = new List<string> { token.Secret, Vault.RootToken, "sa-token-payload", "hunter2" };
        forbidden.AddRange(Vault.Tokens.Keys);
        foreach (var json in new[] { secret.Secret, again.Secret })
        {
            forbidden.AddRange(System.Text.Json.JsonDocument.Parse(json).RootElement.EnumerateObject().Select(p => p.Value.GetString()!));
        }

        var everything = Logs.All + "\n" + string.Join("\n", errors) + "\n" + token + secret;
        Assert.That(Logs.All, Does.Contain("VaultRetryAfterRelogin").And.Contain("VaultWarning"));
        Assert.That(errors, Has.Count.EqualTo(4).And.All.Not.Empty);
        foreach (var value in forbidden)
        {
            Assert.That(everything, Does.Not.Contain(value), "a secret leaked into logs or errors");
        }
    }
}
