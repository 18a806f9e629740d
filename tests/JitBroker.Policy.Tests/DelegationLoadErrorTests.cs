using static JitBroker.Policy.Tests.TestData;

namespace JitBroker.Policy.Tests;

/// <summary>The <c>delegations</c> section is read as strictly as rules: every problem with its exact position.</summary>
public sealed class DelegationLoadErrorTests
{
    private const string Source = "policy.yaml";

    /// <summary>A valid document holding only delegations; variants below replace one line to break exactly one thing.</summary>
    private static readonly string[] Valid =
    [
        "version: 1",                                                   // 1
        "delegations:",                                                 // 2
        "  - id: d1",                                                   // 3
        "    description: The planner hands ticket work to workers.",   // 4
        "    from:",                                                    // 5
        "      spiffe_ids: [\"spiffe://td/agents/planner\"]",           // 6
        "    to: [\"spiffe://td/agents/worker-*\"]",                    // 7
        "    actions: [\"tickets.*\"]",                                 // 8
        "    max_depth: 2",                                             // 9
    ];

    [Test]
    public void Baseline_document_with_only_delegations_is_valid()
    {
        var policy = YamlPolicyEngine.Parse(Lines(Valid), Source);

        Assert.That((policy.RuleCount, policy.DelegationCount), Is.EqualTo((0, 1)));
        Assert.That(policy.Delegations[0].Source.Position.ToString(), Is.EqualTo("policy.yaml:3:5"));
        Assert.That(policy.Delegations[0].Source.Description, Is.EqualTo("The planner hands ticket work to workers."));
    }

    [Test]
    public void Max_depth_defaults_to_direct_delegation_only() =>
        Assert.That(YamlPolicyEngine.Parse(Lines(Valid[..8]), Source).Delegations[0].MaxDepth, Is.EqualTo(1));

    [Test]
    public void Empty_delegations_and_rules_side_by_side_are_valid()
    {
        var policy = YamlPolicyEngine.Parse(Lines("version: 1", "rules: []", "delegations: []"), Source);

        Assert.That((policy.RuleCount, policy.DelegationCount), Is.EqualTo((0, 0)));
    }

    // ---- keys ----
    [TestCase(9, "    max_detph: 2", 9, 5,
        "unknown key 'max_detph' in delegation 'd1'; expected one of: id, description, from, to, actions, max_depth")]
    [TestCase(6, "      spiffe_id: [\"spiffe://td/agents/planner\"]", 6, 7, "unknown key 'spiffe_id' in delegation 'd1' from")]
    [TestCase(6, "      namespaces: [billing]", 6, 7,
        "delegation 'd1': from must name at least one of spiffe_ids, trust_domains or issuers")]
    [TestCase(5, "    principals:", 5, 5, "unknown key 'principals' in delegation 'd1'")]
    public void Unknown_or_insufficient_keys(int line, string replacement, int expectedLine, int expectedColumn, string problem) =>
        AssertFails(Replace(line, replacement), expectedLine, expectedColumn, problem);

    [TestCase(new[] { 5, 6 }, "delegation 'd1' is missing required key 'from'")]
    [TestCase(new[] { 7 }, "delegation 'd1' is missing required key 'to'")]
    [TestCase(new[] { 8 }, "delegation 'd1' is missing required key 'actions'")]
    public void Missing_required_key_is_reported_on_the_entry(int[] dropped, string problem) =>
        AssertFails(Lines([.. Valid.Where((_, index) => !dropped.Contains(index + 1))]), 3, 5, problem);

    [Test]
    public void Missing_id_is_reported_on_the_entry() =>
        AssertFails(Replace(3, "  - name: d1"), 3, 5, "delegations[0] is missing required key 'id'");

    // ---- values ----
    [TestCase(9, "    max_depth: 0", 9, 16, "delegation 'd1': max_depth must be a whole number from 1 to 8, not '0'")]
    [TestCase(9, "    max_depth: 9", 9, 16, "delegation 'd1': max_depth must be a whole number from 1 to 8, not '9'")]
    [TestCase(9, "    max_depth: \"2\"", 9, 16, "not the quoted string '2'")]
    [TestCase(9, "    max_depth: -1", 9, 16, "max_depth must be a whole number from 1 to 8")]
    [TestCase(8, "    actions: [\"tickets.***\"]", 8, 15, "delegation 'd1': actions:")]
    [TestCase(8, "    actions: [\"tickets read\"]", 8, 15, "delegation 'd1': actions: 'tickets read' may contain only")]
    [TestCase(8, "    actions: []", 8, 14, "delegation 'd1': actions must name at least one pattern")]
    [TestCase(8, "    actions: tickets.read", 8, 14, "delegation 'd1': actions must be a list of strings, not a scalar")]
    [TestCase(7, "    to: []", 7, 9, "delegation 'd1': to must name 1-256 worker id patterns")]
    [TestCase(7, "    to: spiffe://td/agents/w", 7, 9, "delegation 'd1': to must be a list of strings, not a scalar")]
    [TestCase(7, "    to: [\"**\"]", 7, 10, "delegation 'd1': to: '**' must be a SPIFFE ID pattern")]
    [TestCase(7, "    to: [\"spiffe://td*/agents/w\"]", 7, 10, "'spiffe://td*/agents/w' is not a SPIFFE ID pattern")]
    [TestCase(7, "    to: [\"spiffe://TD/agents/w\"]", 7, 10, "literal, lowercase trust domain")]
    [TestCase(7, "    to: [\"https://*.example#job\"]", 7, 10, "or an OIDC worker id pattern")]
    [TestCase(7, "    to: [\"spiffe://td/agents/w \"]", 7, 10, "delegation 'd1': to:")]
    [TestCase(7, "    to: [null]", 7, 10, "every entry of delegation 'd1': to must be a string, not null")]
    [TestCase(4, "    description: \"\"", 4, 18, "delegation 'd1': description must be 1-1024 printable characters")]
    [TestCase(3, "  - id: D1", 3, 9, "delegation id 'D1' must be 1-64 characters of a-z 0-9 - _ .")]
    public void Bad_value_is_reported_on_the_value(int line, string replacement, int expectedLine, int expectedColumn, string problem) =>
        AssertFails(Replace(line, replacement), expectedLine, expectedColumn, problem);

    [Test]
    public void From_uses_the_rule_selector_checks_and_names_itself() =>
        AssertFails(Insert(6, "      methods: [oidc]"), 7, 7,
            "delegation 'd1': from.spiffe_ids can only match SPIFFE identities, but from.methods names no SPIFFE method");

    [Test]
    public void From_issuers_must_be_anchored() =>
        AssertFails(Replace(6, "      issuers: [\"https://*\"]"), 6, 17, "delegation 'd1': from.issuers: 'https://*' must begin with a literal scheme://authority");

    [Test]
    public void Delegations_must_be_a_list() =>
        AssertFails(Lines("version: 1", "delegations: {}"), 2, 14, "delegations must be a list of delegation entries, not a mapping");

    [Test]
    public void A_document_without_rules_or_delegations_still_needs_rules() =>
        AssertFails(Lines("version: 1", "defaults: {max_ttl: 5m}"), 1, 1, "the policy document is missing required key 'rules'");

    // ---- ids: one id space over rules and delegations ----
    [Test]
    public void Delegation_id_may_not_repeat_a_rule_id()
    {
        var yaml = Lines(
            "version: 1",
            "rules:",
            "  - id: d1",
            "    effect: deny",
            "    principals: { trust_domains: [td] }",
            "    actions: [\"x.delete\"]",
            "delegations:",
            "  - id: d1",
            "    from: { trust_domains: [td] }",
            "    to: [\"spiffe://td/agents/w\"]",
            "    actions: [\"x.read\"]");

        AssertFails(yaml, 8, 9, "duplicate id 'd1': rules and delegations share one id space (first defined at line 3)");
    }

    [Test]
    public void Delegation_ids_are_unique_among_themselves() =>
        AssertFails(Lines([.. Valid, .. Valid[2..]]), 10, 9, "duplicate id 'd1': rules and delegations share one id space (first defined at line 3)");

    [Test]
    public void Ids_are_unique_across_files_in_both_directions()
    {
        using var dir = new PolicyDirectory();
        var delegations = dir.Write("10-delegations.yaml", Lines(Valid));
        var rules = dir.Write("20-rules.yaml", PolicyDirectory.Document(PolicyDirectory.AllowRule("d1")));

        var ex = Assert.Throws<PolicyLoadException>(() => YamlPolicyEngine.LoadDirectory(dir.Path))!;

        Assert.That(ex.Message, Is.EqualTo($"{rules}:3:9: duplicate rule id 'd1' (first defined at {delegations}:3)"));

        dir.Delete("20-rules.yaml");
        var rules2 = dir.Write("00-rules.yaml", PolicyDirectory.Document(PolicyDirectory.AllowRule("d1")));
        ex = Assert.Throws<PolicyLoadException>(() => YamlPolicyEngine.LoadDirectory(dir.Path))!;

        Assert.That(ex.Message, Is.EqualTo($"{delegations}:3:9: duplicate id 'd1': rules and delegations share one id space (first defined at {rules2}:3)"));
    }

    private static string Replace(int line, string replacement)
    {
        var lines = (string[])Valid.Clone();
        lines[line - 1] = replacement;
        return Lines(lines);
    }

    private static string Insert(int afterLine, params string[] inserted) =>
        Lines([.. Valid[..afterLine], .. inserted, .. Valid[afterLine..]]);

    private static void AssertFails(string yaml, int line, int column, string problem)
    {
        var ex = Assert.Throws<PolicyLoadException>(() => YamlPolicyEngine.Parse(yaml, Source))!;
        Assert.Multiple(() =>
        {
            Assert.That(ex.Problem, Does.Contain(problem));
            Assert.That((ex.Line, ex.Column), Is.EqualTo((line, column)), ex.Message);
            Assert.That(ex.Message, Does.StartWith($"{Source}:{line}:{column}: "));
        });
    }
}
