using JitBroker.Core;
using static JitBroker.Policy.Tests.PolicyDecisionTests;
using static JitBroker.Policy.Tests.TestData;

namespace JitBroker.Policy.Tests;

/// <summary>Credential templates per kind: what they put into IssuerParameters, and what they refuse.</summary>
public sealed class CredentialTemplateTests
{
    private static YamlPolicyEngine WithCredential(string credential) => Engine($$"""
          - id: r
            effect: allow
            principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/**"] }
            actions: ["x.read"]
            credential: {{credential}}
        """);

    [Test]
    public void Jwt_scopes_are_space_separated()
    {
        var engine = WithCredential("{ audiences: [aud], scopes: [\"tickets:read\", \"tickets:write\"], max_ttl: 1m }");

        var grant = engine.Decide(Agent(SupportBot), Request("x.read", "aud")).Grant!;

        Assert.That(grant.IssuerParameters, Is.EqualTo(new Dictionary<string, string> { [IssuerParameterNames.JwtScopes] = "tickets:read tickets:write" }));
    }

    [Test]
    public void Vault_token_template_sets_policies_role_renewable_and_uses()
    {
        var engine = WithCredential("{ kind: vault-token, targets: [vault-deploy], policies: [a, b.c], role: agents, renewable: true, num_uses: 3, max_ttl: 1m }");

        var decision = engine.Decide(Agent(SupportBot), Request("x.read", "vault-deploy", kind: "vault-token"));

        Assert.That(decision.Effect, Is.EqualTo(DecisionEffect.Allow), decision.Reason);
        Assert.That(decision.Grant!.CredentialKind, Is.EqualTo("vault-token"));
        Assert.That(decision.Grant.Scope.Audience, Is.EqualTo("vault-deploy"));
        Assert.That(decision.Grant.IssuerParameters, Is.EqualTo(new Dictionary<string, string>
        {
            [IssuerParameterNames.VaultPolicies] = "a,b.c",
            [IssuerParameterNames.VaultRole] = "agents",
            [IssuerParameterNames.VaultRenewable] = "true",
            [IssuerParameterNames.VaultNumUses] = "3",
        }));
    }

    [Test]
    public void Vault_secret_target_maps_to_its_path_and_nothing_else()
    {
        var engine = WithCredential("{ kind: vault-secret, targets: [db-readonly, warehouse-ro], path: database/creds/readonly, max_ttl: 1m }");

        var first = engine.Decide(Agent(SupportBot), Request("x.read", "db-readonly", kind: "vault-secret"));
        var alias = engine.Decide(Agent(SupportBot), Request("x.read", "warehouse-ro", kind: "vault-secret"));

        Assert.That(first.Grant!.IssuerParameters[IssuerParameterNames.VaultSecretPath], Is.EqualTo("database/creds/readonly"));
        Assert.That(alias.Grant!.IssuerParameters[IssuerParameterNames.VaultSecretPath], Is.EqualTo("database/creds/readonly"));

        // The agent names a target, never a path: asking for the path itself (or another) gets nothing.
        Assert.That(engine.Decide(Agent(SupportBot), Request("x.read", "database/creds/readonly", kind: "vault-secret")).Effect, Is.EqualTo(DecisionEffect.Deny));
        Assert.That(engine.Decide(Agent(SupportBot), Request("x.read", "database/creds/admin", kind: "vault-secret")).Effect, Is.EqualTo(DecisionEffect.Deny));
    }

    [Test]
    public void Template_without_parameters_grants_none()
    {
        var grant = WithCredential("{ audiences: [aud], max_ttl: 1m }").Decide(Agent(SupportBot), Request("x.read", "aud")).Grant!;

        Assert.That(grant.IssuerParameters, Is.Empty);
    }

    [TestCase("{ audiences: [aud], policies: [a], max_ttl: 1m }", "unknown key 'policies' in rule 'r' credential (kind jwt)")]
    [TestCase("{ audiences: [aud], path: a/b, max_ttl: 1m }", "unknown key 'path'")]
    [TestCase("{ kind: vault-token, audiences: [aud], policies: [a], max_ttl: 1m }", "unknown key 'audiences' in rule 'r' credential (kind vault-token)")]
    [TestCase("{ kind: vault-token, targets: [t], policies: [a], path: x, max_ttl: 1m }", "unknown key 'path'")]
    [TestCase("{ kind: vault-secret, targets: [t], path: a/b, scopes: [x], max_ttl: 1m }", "unknown key 'scopes'")]
    [TestCase("{ kind: vault-secret, targets: [t], path: a/b, policies: [x], max_ttl: 1m }", "unknown key 'policies'")]
    [TestCase("{ kind: vault-token, targets: [t], max_ttl: 1m }", "missing required key 'policies'")]
    [TestCase("{ kind: vault-secret, targets: [t], max_ttl: 1m }", "missing required key 'path'")]
    [TestCase("{ kind: vault-secret, path: a/b, max_ttl: 1m }", "missing required key 'targets'")]
    [TestCase("{ kind: vault, targets: [t], max_ttl: 1m }", "is not a known issuer kind")]
    [TestCase("{ kind: vault-token, targets: [t], policies: [root], max_ttl: 1m }", "the 'root' policy can never be granted")]
    [TestCase("{ kind: vault-token, targets: [t], policies: [\"a,b\"], max_ttl: 1m }", "must be 1-128 characters of A-Z a-z 0-9 - _ .")]
    [TestCase("{ kind: vault-token, targets: [t], policies: [a, a], max_ttl: 1m }", "'a' is listed twice")]
    [TestCase("{ kind: vault-token, targets: [t], policies: [a], renewable: yes, max_ttl: 1m }", "must be true or false")]
    [TestCase("{ kind: vault-token, targets: [t], policies: [a], num_uses: 0, max_ttl: 1m }", "must be a whole number from 1 to 1000")]
    [TestCase("{ kind: vault-token, targets: [t], policies: [a], num_uses: \"5\", max_ttl: 1m }", "must be a whole number")]
    [TestCase("{ kind: vault-secret, targets: [t], path: ../sys/raw, max_ttl: 1m }", "must be a Vault path")]
    [TestCase("{ kind: vault-secret, targets: [t], path: /database/creds/x, max_ttl: 1m }", "must be a Vault path")]
    [TestCase("{ kind: vault-secret, targets: [t], path: \"database/creds/*\", max_ttl: 1m }", "must be a Vault path")]
    [TestCase("{ kind: vault-secret, targets: [t], path: sys/leases/lookup, max_ttl: 1m }", "is not a secrets engine")]
    [TestCase("{ kind: vault-secret, targets: [t], path: auth/token/create, max_ttl: 1m }", "is not a secrets engine")]
    [TestCase("{ kind: vault-secret, targets: [\"db-*\"], path: a/b, max_ttl: 1m }", "targets are exact values, not patterns")]
    [TestCase("{ audiences: [aud], scopes: [\"a b\"], max_ttl: 1m }", "is not an OAuth scope token")]
    [TestCase("{ audiences: [aud], scopes: [], max_ttl: 1m }", "must name 1-64 entries")]
    public void Invalid_templates_fail_the_load(string credential, string problem) =>
        Assert.That(() => WithCredential(credential), Throws.TypeOf<PolicyLoadException>().With.Property(nameof(PolicyLoadException.Problem)).Contains(problem));
}
