using JitBroker.Core;
using static JitBroker.Policy.Tests.PolicyDecisionTests;
using static JitBroker.Policy.Tests.TestData;

namespace JitBroker.Policy.Tests;

/// <summary>Re-evaluating an active lease against a (new) policy.</summary>
public sealed class LeaseReevaluationTests
{
    private static readonly DateTimeOffset IssuedAt = new(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);

    private static Lease Lease(string[]? tools = null, TimeSpan? lifetime = null, string[]? ruleIds = null, Dictionary<string, string>? facts = null) => new()
    {
        LeaseId = "lease-1",
        TaskId = "task-1",
        AgentId = SupportBot,
        IssuerKind = "jwt",
        BackendHandle = "jti",
        Scope = new GrantedScope("aud", "x.read", tools ?? ["zendesk"], ["tickets/1"]),
        IssuedAt = IssuedAt,
        ExpiresAt = IssuedAt + (lifetime ?? TimeSpan.FromMinutes(5)),
        RuleIds = ruleIds ?? ["r"],
        CredentialFingerprint = "sha256:x",
        AgentFacts = facts ?? new Dictionary<string, string> { ["trust_domain"] = DevDomain, ["method"] = "jwt-svid" },
    };

    private static YamlPolicyEngine Policy(string tools = "[zendesk]", string ttl = "10m", string extra = "") => Engine($$"""
          - id: r
            effect: allow
            principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/agents/*"], methods: [jwt-svid] }
            actions: ["x.read"]
            tools: {{tools}}
            resources: ["tickets/*"]
            {{extra}}
            credential: { audiences: [aud], max_ttl: {{ttl}} }
        """);

    [Test]
    public void Unchanged_policy_still_grants()
    {
        var verdict = LeaseReevaluation.Evaluate(Policy(), Lease());

        Assert.That(verdict.StillGranted, Is.True, verdict.Reason);
        Assert.That(verdict.Reason, Is.EqualTo("still granted: allowed by rule r"));
    }

    [Test]
    public void Removed_tool_revokes()
    {
        var verdict = LeaseReevaluation.Evaluate(Policy(tools: "[zendesk]"), Lease(tools: ["zendesk", "crm"]));

        Assert.That(verdict.StillGranted, Is.False);
        Assert.That(verdict.Reason, Does.StartWith("no longer granted in full").And.Contains("'crm'"));
    }

    [Test]
    public void Shorter_ceiling_than_the_lease_lifetime_revokes()
    {
        var verdict = LeaseReevaluation.Evaluate(Policy(ttl: "2m"), Lease(lifetime: TimeSpan.FromMinutes(5)));

        Assert.That(verdict.StillGranted, Is.False);
        Assert.That(verdict.Reason, Does.StartWith("no longer granted for its lifetime: the policy now allows at most 120s"));
    }

    [Test]
    public void Deny_revokes_and_names_the_rule()
    {
        var policy = Engine("""
              - id: freeze
                effect: deny
                principals: { trust_domains: [dev.jitbroker.local] }
                actions: ["**"]
                reason: incident freeze
            """);

        var verdict = LeaseReevaluation.Evaluate(policy, Lease());

        Assert.That(verdict.StillGranted, Is.False);
        Assert.That(verdict.Decision.RuleIds, Is.EqualTo(new[] { "freeze" }));
        Assert.That(verdict.Reason, Is.EqualTo("no longer granted: incident freeze"));
    }

    [Test]
    public void Method_and_trust_domain_come_from_the_lease_facts()
    {
        var x509 = new Dictionary<string, string> { ["trust_domain"] = DevDomain, ["method"] = "x509-svid" };

        Assert.That(LeaseReevaluation.Evaluate(Policy(), Lease(facts: x509)).StillGranted, Is.False, "rule is for jwt-svid only");
        Assert.That(() => LeaseReevaluation.Evaluate(Policy(), Lease(facts: new Dictionary<string, string> { ["trust_domain"] = DevDomain })),
            Throws.ArgumentException.With.Message.Contains("'trust_domain' and 'method'"));
    }

    [Test]
    public void Approval_rule_keeps_leases_it_already_approved_but_not_others()
    {
        var gated = Policy(extra: "approval: { approvers: [\"spiffe://corp/humans/*\"], timeout: 5m }");

        Assert.That(LeaseReevaluation.Evaluate(gated, Lease(ruleIds: ["r"])).StillGranted, Is.True);
        Assert.That(LeaseReevaluation.Evaluate(gated, Lease(ruleIds: ["older-rule"])).Reason, Does.StartWith("now needs approval"));
    }

    [Test]
    public void Purpose_and_context_can_be_supplied_by_the_broker()
    {
        var needsPurpose = Policy(extra: "require_purpose: true");

        Assert.That(LeaseReevaluation.Evaluate(needsPurpose, Lease()).StillGranted, Is.False, "a lease keeps no purpose");
        Assert.That(LeaseReevaluation.Evaluate(needsPurpose, Lease(), purpose: "customer call").StillGranted, Is.True);
    }

    [Test]
    public void Request_is_rebuilt_from_the_granted_scope()
    {
        var request = LeaseReevaluation.RequestOf(Lease(lifetime: TimeSpan.FromMinutes(7)));

        Assert.That((request.TaskId, request.Intent.Action, request.Target, request.CredentialKind), Is.EqualTo(("task-1", "x.read", "aud", "jwt")));
        Assert.That(request.Intent.Tools, Is.EqualTo(new[] { "zendesk" }));
        Assert.That(request.RequestedTtl, Is.EqualTo(TimeSpan.FromMinutes(7)));
    }
}
