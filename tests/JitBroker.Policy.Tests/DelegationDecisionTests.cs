using JitBroker.Core;
using static JitBroker.Policy.Tests.TestData;

namespace JitBroker.Policy.Tests;

/// <summary>YamlPolicyEngine as IDelegationPolicy: default deny, selectors, worker and action globs, depth, reasons.</summary>
public sealed class DelegationDecisionTests
{
    private const string Planner = "spiffe://corp/agents/planner";
    private const string Worker = "spiffe://corp/agents/worker-1";

    private static readonly IDelegationPolicy Policy = YamlPolicyEngine.Parse("""
        version: 1
        rules: []
        delegations:
          - id: planner-to-workers
            from: { spiffe_ids: ["spiffe://corp/agents/planner"] }
            to: ["spiffe://corp/agents/worker-*"]
            actions: ["tickets.*"]
            max_depth: 2
          - id: planner-deep-reads
            from: { spiffe_ids: ["spiffe://corp/agents/planner"] }
            to: ["spiffe://corp/agents/worker-*", "spiffe://corp/agents/reader"]
            actions: ["tickets.read"]
            max_depth: 5
          - id: invoice-jobs
            from:
              issuers: ["https://oidc.k8s.example"]
              namespaces: [billing]
              service_accounts: ["invoice-*"]
            to: ["https://oidc.k8s.example#system:serviceaccount:billing:renderer-*"]
            actions: ["invoices.read"]
          - id: x509-helpers
            from: { trust_domains: [corp], methods: [x509-svid] }
            to: ["spiffe://corp/agents/helpers/**"]
            actions: ["docs.read"]
            max_depth: 3
        """, "delegations.yaml");

    [Test]
    public void A_matching_entry_allows_with_its_depth_and_id()
    {
        var decision = Policy.Decide(Agent(Planner), Worker, "tickets.update");

        Assert.That(decision.Allowed, Is.True);
        Assert.That(decision.MaxDepth, Is.EqualTo(2));
        Assert.That(decision.RuleIds, Is.EqualTo(new[] { "planner-to-workers" }));
        Assert.That(decision.Reason, Is.EqualTo("delegation allowed by rule planner-to-workers (max depth 2)"));
    }

    [Test]
    public void Several_matching_entries_take_the_largest_depth_and_report_every_id_in_policy_order()
    {
        var decision = Policy.Decide(Agent(Planner), Worker, "tickets.read");

        Assert.That((decision.Allowed, decision.MaxDepth), Is.EqualTo((true, 5)));
        Assert.That(decision.RuleIds, Is.EqualTo(new[] { "planner-to-workers", "planner-deep-reads" }));
        Assert.That(decision.Reason, Is.EqualTo("delegation allowed by rules planner-to-workers, planner-deep-reads (max depth 5)"));
    }

    [Test]
    public void Only_the_entries_that_match_count_towards_the_depth() =>
        Assert.That(Policy.Decide(Agent(Planner), "spiffe://corp/agents/reader", "tickets.read"),
            Has.Property(nameof(DelegationDecision.MaxDepth)).EqualTo(5)
                .And.Property(nameof(DelegationDecision.RuleIds)).EqualTo(new[] { "planner-deep-reads" }));

    [TestCase(Planner, "spiffe://corp/agents/worker-1", "payments.refund",
        "no delegation rule lets 'spiffe://corp/agents/planner' delegate action 'payments.refund' to 'spiffe://corp/agents/worker-1': " +
        "action 'payments.refund' may not be delegated to this worker")]
    [TestCase(Planner, "spiffe://corp/agents/reader", "tickets.update",
        "action 'tickets.update' may not be delegated to this worker")]
    [TestCase(Planner, "spiffe://corp/agents/other", "tickets.read",
        "no delegation rule lets 'spiffe://corp/agents/planner' delegate action 'tickets.read' to 'spiffe://corp/agents/other': " +
        "'spiffe://corp/agents/other' is not a worker it may delegate to")]
    [TestCase(Planner, "spiffe://corp/agents/worker-1/nested", "tickets.read", "is not a worker it may delegate to")]
    [TestCase(Planner, "spiffe://corp.evil/agents/worker-1", "tickets.read", "is not a worker it may delegate to")]
    [TestCase(Planner, "https://corp#spiffe://corp/agents/worker-1", "tickets.read", "is not a worker it may delegate to")]
    [TestCase(Worker, "spiffe://corp/agents/worker-2", "tickets.read",
        "no delegation rule lets 'spiffe://corp/agents/worker-1' delegate action 'tickets.read' to 'spiffe://corp/agents/worker-2': " +
        "'spiffe://corp/agents/worker-1' may not delegate")]
    public void No_matching_entry_denies_saying_how_far_it_got(string planner, string worker, string action, string reason)
    {
        var decision = Policy.Decide(Agent(planner), worker, action);

        Assert.That((decision.Allowed, decision.MaxDepth, decision.RuleIds.Count), Is.EqualTo((false, 0, 0)));
        Assert.That(decision.Reason, Does.EndWith(reason));
    }

    [Test]
    public void Planner_from_another_trust_domain_with_the_same_path_is_not_the_planner() =>
        Assert.That(Policy.Decide(Agent("spiffe://corp2/agents/planner"), Worker, "tickets.read").Allowed, Is.False);

    [Test]
    public void Planner_id_claimed_by_an_oidc_identity_is_not_the_spiffe_planner()
    {
        var lookalike = Oidc("https://accounts.example", Planner) with { Id = Planner };

        Assert.That(Policy.Decide(lookalike, Worker, "tickets.read").Allowed, Is.False);
    }

    [TestCase("billing", "invoice-runner", true)]
    [TestCase("default", "invoice-runner", false)]
    [TestCase("billing", "reporter", false)]
    [TestCase(null, "invoice-runner", false)]
    [TestCase("billing", null, false)]
    public void Oidc_planners_match_on_issuer_namespace_and_service_account(string? ns, string? serviceAccount, bool allowed)
    {
        var planner = Oidc("https://oidc.k8s.example", "system:serviceaccount:billing:invoice-runner", ns, serviceAccount);

        var decision = Policy.Decide(planner, "https://oidc.k8s.example#system:serviceaccount:billing:renderer-pdf", "invoices.read");

        Assert.That(decision.Allowed, Is.EqualTo(allowed), decision.Reason);
        Assert.That(decision.MaxDepth, Is.EqualTo(allowed ? 1 : 0), "max_depth defaults to 1");
    }

    [Test]
    public void Oidc_planner_of_another_issuer_is_refused() =>
        Assert.That(Policy.Decide(Oidc("https://oidc.other.example", "job", "billing", "invoice-runner"),
            "https://oidc.k8s.example#system:serviceaccount:billing:renderer-pdf", "invoices.read").Allowed, Is.False);

    [TestCase("x509-svid", "spiffe://corp/agents/helpers/a/b", true)]
    [TestCase("jwt-svid", "spiffe://corp/agents/helpers/a/b", false)]
    [TestCase("x509-svid", "spiffe://corp/agents/helper", false)]
    public void Trust_domain_and_method_selectors_and_double_star_workers(string method, string worker, bool allowed)
    {
        var planner = Agent("spiffe://corp/agents/anyone") with { Method = method };

        var decision = Policy.Decide(planner, worker, "docs.read");

        Assert.That((decision.Allowed, decision.MaxDepth), Is.EqualTo((allowed, allowed ? 3 : 0)), decision.Reason);
    }

    [TestCase("tickets.*")]
    [TestCase("tickets.?ead")]
    [TestCase("")]
    public void A_pattern_or_empty_action_is_never_delegated(string action)
    {
        var decision = Policy.Decide(Agent(Planner), Worker, action);

        Assert.That(decision.Allowed, Is.False);
        Assert.That(decision.Reason, Is.EqualTo($"action '{action}' is not a concrete action name"));
    }

    [Test]
    public void An_empty_worker_id_is_denied() =>
        Assert.That(Policy.Decide(Agent(Planner), "", "tickets.read").Reason, Does.Contain("needs the worker's identity"));

    [Test]
    public void A_policy_without_delegations_lets_nobody_delegate()
    {
        IDelegationPolicy policy = YamlPolicyEngine.Parse(PolicyDirectory.Document(PolicyDirectory.AllowRule("r")), "rules.yaml");

        var decision = policy.Decide(Agent(SupportBot), Worker, "x.read");

        Assert.That((decision.Allowed, decision.RuleIds.Count), Is.EqualTo((false, 0)));
        Assert.That(decision.Reason, Does.EndWith($"'{SupportBot}' may not delegate"));
    }

    [Test]
    public void Delegations_ignore_credential_rules_and_credential_decisions_ignore_delegations()
    {
        var engine = YamlPolicyEngine.Parse("""
            version: 1
            rules:
              - id: nobody-reads
                effect: deny
                principals: { trust_domains: [corp] }
                actions: ["tickets.read"]
            delegations:
              - id: d
                from: { trust_domains: [corp] }
                to: ["spiffe://corp/agents/**"]
                actions: ["tickets.read"]
            """, "mixed.yaml");

        Assert.That(engine.Decide(Agent(Planner), Worker, "tickets.read").RuleIds, Is.EqualTo(new[] { "d" }));
        Assert.That(engine.Decide(Agent(Planner), Request("tickets.read", "aud")).RuleIds, Is.EqualTo(new[] { "nobody-reads" }));
    }

    [Test]
    public void Delegations_from_every_file_of_a_directory_are_merged_in_file_order_and_the_largest_depth_wins()
    {
        using var dir = new PolicyDirectory();
        // The deeper entry comes first: the largest depth wins wherever it stands.
        dir.Write("20-b.yaml", "version: 1\ndelegations:\n  - id: b\n    from: { trust_domains: [corp] }\n" +
            "    to: [\"spiffe://corp/agents/**\"]\n    actions: [\"x.read\"]\n");
        dir.Write("10-a.yaml", "version: 1\nrules: []\ndelegations:\n  - id: a\n    from: { trust_domains: [corp] }\n" +
            "    to: [\"spiffe://corp/agents/**\"]\n    actions: [\"x.*\"]\n    max_depth: 4\n");

        var decision = YamlPolicyEngine.LoadDirectory(dir.Path).Decide(Agent(Planner), Worker, "x.read");

        Assert.That(decision.RuleIds, Is.EqualTo(new[] { "a", "b" }));
        Assert.That(decision.MaxDepth, Is.EqualTo(4));
    }
}
