using System.Net;
using System.Text;
using JitBroker.Core;
using JitBroker.Testing;
using JitBroker.Vault.Tests.Fakes;
using JitBroker.Vault.Tests.Infrastructure;
using NUnit.Framework;

namespace JitBroker.Vault.Tests;

/// <summary>
/// The broker's Vault policy exactly as docs/vault.md shows it, enforced by the in-test Vault on the broker's own token:
/// requests outside it are refused, and the issuers never need one (issue 17 item 9).
/// </summary>
[TestFixture]
public sealed class DocumentedVaultPolicyTests : VaultTestBase
{
    private const string Role = "agent-tasks";
    private const string DbPath = "database/creds/readonly";

    private string _brokerToken = null!;

    [SetUp]
    public void EnforceTheDocumentedPolicy()
    {
        Vault.PolicyDocuments["jitbroker"] = FakeVaultPolicy.Parse(DocumentedPolicy());
        Vault.EnforcePolicies = true;
        Vault.TokenRoles[Role] = new FakeTokenRole { AllowedPolicies = ["task-read", "task-write"] };
        Vault.AddEngine(DbPath, leaseDuration: 600);
        var broker = new FakeToken
        {
            Id = FakeIds.Token(), Accessor = FakeIds.Random(24), Policies = ["default", "jitbroker"], Ttl = 3600, Renewable = true, Orphan = true,
        };
        Vault.Tokens[broker.Id] = broker;
        _brokerToken = broker.Id;
    }

    [Test]
    public void The_documented_policy_grants_token_creation_only_through_roles_and_revocation_only_under_issued_prefixes()
    {
        var policy = FakeVaultPolicy.Parse(DocumentedPolicy());
        Assert.Multiple(() =>
        {
            Assert.That(policy.Allows("POST", "auth/token/create/" + Role), Is.True);
            Assert.That(policy.Allows("POST", "auth/token/create"), Is.False, "plain create would let the broker copy its own policies");
            Assert.That(policy.Allows("POST", "auth/token/create-orphan"), Is.False);
            Assert.That(policy.Allows("PUT", "sys/leases/revoke"), Is.False, "the body form names any lease");
            Assert.That(policy.Allows("PUT", "sys/leases/revoke/" + DbPath + "/abc"), Is.True);
            Assert.That(policy.Allows("PUT", "sys/leases/revoke/aws/creds/other/abc"), Is.False);
            Assert.That(policy.Allows("PUT", "sys/leases/revoke-prefix/" + DbPath), Is.False);
            Assert.That(policy.Allows("PUT", "sys/leases/renew/aws/creds/other/abc"), Is.False);
        });
    }

    [TestCase("POST", "auth/token/create", """{"policies":["task-read"]}""")]
    [TestCase("POST", "auth/token/create-orphan", """{"policies":["task-read"]}""")]
    [TestCase("PUT", "sys/leases/revoke", """{"lease_id":"aws/creds/other/abc","sync":true}""")]
    [TestCase("PUT", "sys/leases/revoke/aws/creds/other/abc", """{"sync":true}""")]
    [TestCase("GET", "aws/creds/other", null)]
    public async Task The_in_test_Vault_refuses_a_request_outside_the_documented_policy(string method, string path, string? body)
    {
        using var http = new HttpClient { BaseAddress = Vault.Address };
        using var request = new HttpRequestMessage(new HttpMethod(method), "/v1/" + path);
        request.Headers.Add("X-Vault-Token", _brokerToken);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        using var response = await http.SendAsync(request);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(Vault.PolicyRefusals, Does.Contain($"{method} {path}"));
    }

    [Test]
    public async Task The_issuers_issue_renew_and_revoke_tokens_and_secrets_without_needing_anything_outside_the_policy()
    {
        var options = Options(o =>
        {
            o.Auth.TokenPath = WriteFile("broker-token", _brokerToken);
            o.AllowedSecretPathPrefixes = [DbPath];
            o.DefaultTokenRole = Role;
        });
        var session = Session(options);
        var tokens = TokenIssuer(session, options);
        var secrets = SecretIssuer(session, options);

        var tokenRequest = Request(new Dictionary<string, string> { [IssuerParameterNames.VaultPolicies] = "task-read", [IssuerParameterNames.VaultRenewable] = "true" }, TimeSpan.FromMinutes(5));
        var token = await tokens.IssueAsync(tokenRequest);
        var tokenLease = IssuedLeases.For(tokenRequest, token);
        await tokens.RenewAsync(tokenLease, Agent, Clock.GetUtcNow().AddMinutes(4));
        var tokenRevoked = await tokens.RevokeAsync(tokenLease);

        var secretRequest = Request(new Dictionary<string, string> { [IssuerParameterNames.VaultSecretPath] = DbPath }, TimeSpan.FromMinutes(5), kind: "vault-secret");
        var secret = await secrets.IssueAsync(secretRequest);
        var secretLease = IssuedLeases.For(secretRequest, secret);
        await secrets.RenewAsync(secretLease, Agent, Clock.GetUtcNow().AddMinutes(4));
        var secretRevoked = await secrets.RevokeAsync(secretLease);

        Assert.Multiple(() =>
        {
            Assert.That(Vault.PolicyRefusals, Is.Empty);
            Assert.That((tokenRevoked.IsDone, secretRevoked.IsDone), Is.EqualTo((true, true)));
            Assert.That(Vault.TokenByAccessor(token.BackendHandle)!.Revoked, Is.True);
            Assert.That(Vault.Leases.ContainsKey(secret.BackendHandle), Is.False);
            Assert.That(Vault.RequestsTo("auth/token/create/" + Role), Has.Count.EqualTo(1));
            Assert.That(Vault.TokenByAccessor(token.BackendHandle)!.Policies, Is.EquivalentTo(new[] { "task-read" }), "no_default_policy");
        });
    }

    /// <summary>The <c>hcl</c> block under "The broker's Vault policy" in docs/vault.md.</summary>
    private static string DocumentedPolicy()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "docs", "vault.md");
            if (File.Exists(candidate))
            {
                var text = File.ReadAllText(candidate);
                var section = text.IndexOf("### The broker's Vault policy", StringComparison.Ordinal);
                var start = text.IndexOf("```hcl\n", section, StringComparison.Ordinal) + "```hcl\n".Length;
                return text[start..text.IndexOf("```", start, StringComparison.Ordinal)];
            }
        }

        throw new AssertionException("docs/vault.md not found above " + AppContext.BaseDirectory);
    }
}
