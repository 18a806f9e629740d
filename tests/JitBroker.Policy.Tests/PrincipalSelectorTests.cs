using JitBroker.Core;
using static JitBroker.Policy.Tests.PolicyDecisionTests;
using static JitBroker.Policy.Tests.TestData;

namespace JitBroker.Policy.Tests;

/// <summary>Principal selectors: every selector given must match (AND), any entry of one may (OR).</summary>
public sealed class PrincipalSelectorTests
{
    private static YamlPolicyEngine Rule(string principals) => Engine($$"""
          - id: r
            effect: allow
            principals: {{principals}}
            actions: ["x.read"]
            credential: { audiences: [aud], max_ttl: 1m }
        """);

    private static bool Allows(YamlPolicyEngine engine, WorkloadIdentity agent) =>
        engine.Decide(agent, Request("x.read", "aud")).Effect == DecisionEffect.Allow;

    [Test]
    public void Kubernetes_selectors_and_together()
    {
        var engine = Rule($$"""{ issuers: ["{{K8sIssuer}}"], methods: [oidc], namespaces: [billing, "team-*"], service_accounts: ["invoice-*"] }""");

        Assert.Multiple(() =>
        {
            Assert.That(Allows(engine, Oidc(K8sIssuer, "system:serviceaccount:billing:invoice-runner", "billing", "invoice-runner")), Is.True);
            Assert.That(Allows(engine, Oidc(K8sIssuer, "s", "team-a", "invoice-x")), Is.True, "second namespace entry (OR)");
            Assert.That(Allows(engine, Oidc(K8sIssuer, "s", "default", "invoice-runner")), Is.False, "wrong namespace");
            Assert.That(Allows(engine, Oidc(K8sIssuer, "s", "billing", "payroll")), Is.False, "wrong service account");
            Assert.That(Allows(engine, Oidc(K8sIssuer, "s", "billing")), Is.False, "no service account fact: absence is not a wildcard");
            Assert.That(Allows(engine, Oidc("https://oidc.k8s.other.example", "s", "billing", "invoice-runner")), Is.False, "other issuer");
            Assert.That(Allows(engine, Oidc(K8sIssuer, "s", "billing", "invoice-runner") with { Method = "jwt-svid" }), Is.False, "other method");
        });
    }

    [Test]
    public void Trust_domains_match_exactly_for_spiffe_and_oidc()
    {
        var engine = Rule($$"""{ trust_domains: [dev.jitbroker.local, "{{K8sIssuer}}"] }""");

        Assert.That(Allows(engine, Agent(SupportBot)), Is.True);
        Assert.That(Allows(engine, Oidc(K8sIssuer, "anyone")), Is.True);
        Assert.That(Allows(engine, Agent("spiffe://dev.jitbroker.local.evil.example/agents/x")), Is.False);
        Assert.That(Allows(engine, Oidc(K8sIssuer + "/", "anyone")), Is.False);
    }

    [Test]
    public void Subjects_match_the_sub_fact()
    {
        var engine = Rule($$"""{ issuers: ["https://token.actions.example"], subjects: ["repo:acme/support-bot:ref:refs/heads/main"] }""");

        Assert.That(Allows(engine, Oidc("https://token.actions.example", "repo:acme/support-bot:ref:refs/heads/main")), Is.True);
        Assert.That(Allows(engine, Oidc("https://token.actions.example", "repo:acme/support-bot:ref:refs/heads/evil")), Is.False);
    }

    [Test]
    public void Subject_globs_stop_at_colons_as_everywhere_else()
    {
        // The one glob language (Core GlobPatternTests): the same pattern means the same as an OIDC SubjectPattern.
        var engine = Rule($$"""{ issuers: ["{{K8sIssuer}}"], subjects: ["system:serviceaccount:billing:*", "system:serviceaccount:ops:**"] }""");

        Assert.That(Allows(engine, Oidc(K8sIssuer, "system:serviceaccount:billing:invoice-runner")), Is.True);
        Assert.That(Allows(engine, Oidc(K8sIssuer, "system:serviceaccount:billing:invoice-runner:extra")), Is.False, "'*' does not cross ':'");
        Assert.That(Allows(engine, Oidc(K8sIssuer, "system:serviceaccount:ops:deep:er")), Is.True, "'**' does");
    }

    [Test]
    public void Spiffe_ids_and_methods_combine()
    {
        var engine = Rule("""{ spiffe_ids: ["spiffe://dev.jitbroker.local/agents/*"], methods: [x509-svid] }""");

        Assert.That(Allows(engine, Agent(SupportBot) with { Method = "x509-svid" }), Is.True);
        Assert.That(Allows(engine, Agent(SupportBot)), Is.False, "jwt-svid is not listed");
    }

    [Test]
    public void Issuer_only_rule_applies_to_oidc_identities_through_the_index_and_never_to_an_svid_claiming_the_issuer()
    {
        // Issuers pin no trust domain, so the index must offer this rule to agents of domains no rule names; but only
        // identities the OIDC attestor verified against the issuer match it (issue 17).
        var engine = Engine("""
              - id: spiffe-rule
                effect: allow
                principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/**"] }
                actions: ["x.read"]
                credential: { audiences: [other], max_ttl: 1m }
              - id: by-issuer
                effect: allow
                principals: { issuers: ["https://issuer.example"] }
                actions: ["x.read"]
                credential: { audiences: [aud], max_ttl: 1m }
            """);
        var svidWithIssuer = Agent(SupportBot) with { Facts = new Dictionary<string, string> { ["iss"] = "https://issuer.example" } };

        Assert.That(engine.Decide(Oidc("https://issuer.example", "x"), Request("x.read", "aud")).RuleIds, Is.EqualTo(new[] { "by-issuer" }));
        Assert.That(engine.Decide(svidWithIssuer, Request("x.read", "aud")).Effect, Is.EqualTo(DecisionEffect.Deny));
    }

    [Test]
    public void A_federated_svid_whose_own_iss_names_an_oidc_issuer_does_not_satisfy_an_issuers_rule()
    {
        var engine = Rule($$"""{ issuers: ["{{K8sIssuer}}"], namespaces: [billing] }""");
        // What a partner trust domain's SPIRE server can mint: any iss it likes, even Kubernetes-looking claims.
        var forged = new WorkloadIdentity
        {
            Id = "spiffe://partner.example/agents/x",
            TrustDomain = "partner.example",
            Method = "jwt-svid",
            EvidenceFingerprint = "sha256:test",
            Facts = new Dictionary<string, string> { ["iss"] = K8sIssuer, ["k8s.namespace"] = "billing" },
        };

        Assert.Multiple(() =>
        {
            Assert.That(Allows(engine, forged), Is.False);
            Assert.That(Allows(engine, forged with { Method = "x509-svid" }), Is.False);
            Assert.That(Allows(engine, Oidc(K8sIssuer, "system:serviceaccount:billing:a", "billing")), Is.True, "the attested issuer still matches");
            Assert.That(Allows(engine, Oidc(K8sIssuer, "s", "billing") with { TrustDomain = "https://other.example" }), Is.False,
                "the issuer the attestor verified against, not an iss fact alone");
        });
    }

    // ---- load errors ----
    [TestCase("{ methods: [oidc] }", "must name at least one of spiffe_ids, trust_domains or issuers")]
    [TestCase("{ namespaces: [billing] }", "must name at least one of spiffe_ids, trust_domains or issuers")]
    [TestCase("{ trust_domains: [\"dev.*\"] }", "without spaces or wildcards")]
    [TestCase("{ trust_domains: [a, a] }", "'a' is listed twice")]
    [TestCase("{ trust_domains: [] }", "must name at least one trust domain")]
    [TestCase("{ trust_domains: [a], methods: [k8s] }", "unknown attestation method 'k8s'")]
    [TestCase("{ issuers: [\"https://*.example\"] }", "must begin with a literal scheme://authority")]
    [TestCase("{ issuers: [\"*\"] }", "must begin with a literal scheme://authority")]
    [TestCase("{ issuers: [\"oidc.example\"] }", "must begin with a literal scheme://authority")]
    [TestCase("{ trust_domains: [a], namespaces: [Billing] }", "must be a Kubernetes name pattern")]
    [TestCase("{ trust_domains: [a], service_accounts: [\"a b\"] }", "must be a Kubernetes name pattern")]
    [TestCase("{ spiffe_ids: [\"spiffe://b.example/x\"], trust_domains: [a.example] }", "which principals.trust_domains does not list")]
    [TestCase("{ spiffe_ids: [\"spiffe://a.example/x\"], methods: [oidc] }", "names no SPIFFE method")]
    [TestCase("{ trust_domains: [a], pods: [x] }", "unknown key 'pods'")]
    [TestCase("{ issuers: [\"https://spire.example\"], methods: [jwt-svid] }", "issuers match only identities the OIDC attestor verified")]
    [TestCase("{ issuers: [\"https://spire.example\"], methods: [x509-svid, jwt-svid] }", "(methods without oidc)")]
    [TestCase("{ issuers: [\"https://spire.example\"], spiffe_ids: [\"spiffe://a.example/x\"] }", "(spiffe_ids)")]
    [TestCase("{ issuers: [\"https://spire.example\"], trust_domains: [a.example] }", "(trust domain 'a.example')")]
    public void Invalid_selectors_fail_the_load(string principals, string problem) =>
        Assert.That(() => Rule(principals), Throws.TypeOf<PolicyLoadException>().With.Property(nameof(PolicyLoadException.Problem)).Contains(problem));

    [TestCase("{ issuers: [\"https://oidc.example\"], trust_domains: [\"https://oidc.example\"] }")]
    [TestCase("{ issuers: [\"https://oidc.example\"], methods: [oidc, jwt-svid] }")]
    public void Issuers_with_selectors_an_oidc_identity_can_satisfy_load(string principals) =>
        Assert.That(Rule(principals).RuleCount, Is.EqualTo(1));

    [Test]
    public void Issuer_with_literal_host_and_path_wildcard_is_accepted() =>
        Assert.That(Rule("""{ issuers: ["https://oidc.example/tenants/*"] }""").RuleCount, Is.EqualTo(1));
}
