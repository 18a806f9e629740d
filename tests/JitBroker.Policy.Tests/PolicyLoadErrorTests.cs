using static JitBroker.Policy.Tests.TestData;

namespace JitBroker.Policy.Tests;

/// <summary>Every validation rule fails the load with the exact position of the offending node.</summary>
public sealed class PolicyLoadErrorTests
{
    private const string Source = "policy.yaml";

    /// <summary>A valid document; variants below replace one line to break exactly one thing.</summary>
    private static readonly string[] Valid =
    [
        "version: 1",                                       // 1
        "rules:",                                           // 2
        "  - id: r1",                                       // 3
        "    effect: allow",                                // 4
        "    principals:",                                  // 5
        "      spiffe_ids: [\"spiffe://td/agents/a\"]",     // 6
        "    actions: [\"x.read\"]",                        // 7
        "    credential:",                                  // 8
        "      audiences: [\"https://aud\"]",               // 9
        "      max_ttl: 5m",                                // 10
    ];

    [Test]
    public void Baseline_document_is_valid() =>
        Assert.That(YamlPolicyEngine.Parse(Lines(Valid), Source).RuleCount, Is.EqualTo(1));

    [Test]
    public void Error_message_reads_source_line_column_problem()
    {
        var ex = Fail(Replace(7, "    actions: x.read"));

        Assert.That(ex.SourceName, Is.EqualTo(Source));
        Assert.That((ex.Line, ex.Column), Is.EqualTo((7, 14)));
        Assert.That(ex.Message, Is.EqualTo("policy.yaml:7:14: rule 'r1': actions must be a list of strings, not a scalar"));
        Assert.That(ex.Problem, Is.EqualTo("rule 'r1': actions must be a list of strings, not a scalar"));
    }

    // ---- unknown keys: reported on the key itself ----
    [TestCase(2, "rulez:", 2, 1, "unknown key 'rulez' in the policy document")]
    [TestCase(4, "    effects: allow", 4, 5, "unknown key 'effects' in rule 'r1'")]
    [TestCase(6, "      spiffe_id: [\"spiffe://td/agents/a\"]", 6, 7, "unknown key 'spiffe_id' in rule 'r1' principals")]
    [TestCase(9, "      audience: [\"https://aud\"]", 9, 7, "unknown key 'audience' in rule 'r1' credential")]
    [TestCase(10, "      ttl: 5m", 10, 7, "unknown key 'ttl' in rule 'r1' credential")]
    public void Unknown_key(int line, string replacement, int expectedLine, int expectedColumn, string problem) =>
        AssertFails(Replace(line, replacement), expectedLine, expectedColumn, problem);

    [Test]
    public void Unknown_key_in_defaults() =>
        AssertFails(Insert(2, "defaults:", "  max_tll: 5m"), 3, 3, "unknown key 'max_tll' in defaults");

    [Test]
    public void Unknown_key_lists_the_expected_ones() =>
        AssertFails(Insert(11, "    approvers: [bob]"), 11, 5,
            "unknown key 'approvers' in rule 'r1'; expected one of: id, description, effect, principals, actions, tools, resources, " +
            "require_purpose, purpose_min_length, conditions, credential, approval, reason");

    // ---- wrong types: reported on the value ----
    [TestCase(1, "version: \"1\"", 1, 10, "version must be the integer 1")]
    [TestCase(1, "version: 1.0", 1, 10, "version must be the integer 1")]
    [TestCase(1, "version: [1]", 1, 10, "version must be the integer 1")]
    [TestCase(3, "  - id: [r1]", 3, 9, "rule id must be a string, not a list")]
    [TestCase(4, "    effect: ~", 4, 13, "rule 'r1': effect must be a string, not null")]
    [TestCase(4, "    effect: permit", 4, 13, "rule 'r1': effect must be 'allow' or 'deny', not 'permit'")]
    [TestCase(6, "      spiffe_ids: spiffe://td/agents/a", 6, 19, "principals.spiffe_ids must be a list of strings, not a scalar")]
    [TestCase(6, "      spiffe_ids: [{id: a}]", 6, 20, "every entry of rule 'r1': principals.spiffe_ids must be a string, not a mapping")]
    [TestCase(7, "    actions: [x.read, null]", 7, 23, "every entry of rule 'r1': actions must be a string, not null")]
    [TestCase(9, "      audiences: https://aud", 9, 18, "credential.audiences must be a list of strings, not a scalar")]
    public void Wrong_type(int line, string replacement, int expectedLine, int expectedColumn, string problem) =>
        AssertFails(Replace(line, replacement), expectedLine, expectedColumn, problem);

    [Test]
    public void Rules_must_be_a_list() =>
        AssertFails(Lines("version: 1", "rules: {}"), 2, 8, "rules must be a list of rules, not a mapping");

    [Test]
    public void Principals_must_be_a_mapping() =>
        AssertFails(ReplaceRange(5, 6, "    principals: [\"spiffe://td/agents/a\"]"), 5, 17, "rule 'r1': principals must be a mapping, not a list");

    [Test]
    public void Credential_must_be_a_mapping() =>
        AssertFails(ReplaceRange(8, 10, "    credential: jwt"), 8, 17, "rule 'r1': credential must be a mapping, not a scalar");

    [Test]
    public void Root_must_be_a_mapping() =>
        AssertFails(Lines("- version: 1"), 1, 1, "the policy document must be a mapping, not a list");

    // ---- missing required fields: reported on the mapping that lacks them ----
    [Test]
    public void Missing_version() =>
        AssertFails(Lines(Valid[1..]), 1, 1, "the policy document is missing required key 'version'");

    [Test]
    public void Missing_rules() =>
        AssertFails(Lines("version: 1", "defaults: {max_ttl: 5m}"), 1, 1, "the policy document is missing required key 'rules'");

    [TestCase(4, "    # no effect", "rule 'r1' is missing required key 'effect'")]
    [TestCase(7, "    # no actions", "rule 'r1' is missing required key 'actions'")]
    [TestCase(3, "  - name: r1", "rules[0] is missing required key 'id'")]
    [TestCase(3, "  - description: no id", "rules[0] is missing required key 'id'")]
    public void Missing_rule_field_is_reported_on_the_rule(int line, string replacement, string problem) =>
        AssertFails(Replace(line, replacement), 3, 5, problem);

    [Test]
    public void Missing_principals() =>
        AssertFails(Lines([.. Valid[..4], .. Valid[6..]]), 3, 5, "rule 'r1' is missing required key 'principals'");

    [Test]
    public void Principals_without_a_trust_anchor() =>
        AssertFails(ReplaceRange(5, 6, "    principals: {}"), 5, 17,
            "rule 'r1': principals must name at least one of spiffe_ids, trust_domains or issuers");

    [Test]
    public void Allow_rule_without_credential() =>
        AssertFails(Lines(Valid[..7]), 3, 5, "rule 'r1' is an allow rule and needs 'credential' with at least one audience");

    [Test]
    public void Allow_rule_without_audiences() =>
        AssertFails(Lines([.. Valid[..8], Valid[9]]), 9, 7, "rule 'r1': credential is missing required key 'audiences'");

    [Test]
    public void Allow_rule_with_empty_audiences() =>
        AssertFails(Replace(9, "      audiences: []"), 9, 18, "credential.audiences must name at least one audience");

    [Test]
    public void Allow_rule_without_any_ttl_bound() =>
        AssertFails(Lines(Valid[..9]), 9, 7, "credential.max_ttl is required when defaults.max_ttl is not set");

    [Test]
    public void Empty_actions() =>
        AssertFails(Replace(7, "    actions: []"), 7, 14, "rule 'r1': actions must name at least one pattern");

    [Test]
    public void Empty_spiffe_ids() =>
        AssertFails(Replace(6, "      spiffe_ids: []"), 6, 19, "principals.spiffe_ids must name at least one SPIFFE ID pattern");

    // ---- duplicates ----
    [Test]
    public void Duplicate_rule_id_is_reported_on_the_second_id()
    {
        var yaml = Lines([.. Valid, "  - id: r1", "    effect: deny", "    principals: {spiffe_ids: [\"spiffe://td/**\"]}", "    actions: [\"*\"]"]);
        AssertFails(yaml, 11, 9, "duplicate rule id 'r1' (first defined at line 3)");
    }

    [Test]
    public void Duplicate_yaml_key_is_reported_on_the_second_key() =>
        AssertFails(Insert(5, "    effect: deny"), 5, 5, "duplicate key 'effect'");

    [Test]
    public void Duplicate_audience() =>
        AssertFails(Replace(9, "      audiences: [\"https://aud\", \"https://aud\"]"), 9, 34, "'https://aud' is listed twice");

    private static string Replace(int line, string replacement)
    {
        var lines = (string[])Valid.Clone();
        lines[line - 1] = replacement;
        return Lines(lines);
    }

    private static string ReplaceRange(int firstLine, int lastLine, string replacement) =>
        Lines([.. Valid[..(firstLine - 1)], replacement, .. Valid[lastLine..]]);

    private static string Insert(int beforeLine, params string[] inserted) =>
        Lines([.. Valid[..(beforeLine - 1)], .. inserted, .. Valid[(beforeLine - 1)..]]);

    private static PolicyLoadException Fail(string yaml) =>
        Assert.Throws<PolicyLoadException>(() => YamlPolicyEngine.Parse(yaml, Source))!;

    private static void AssertFails(string yaml, int line, int column, string problem)
    {
        var ex = Fail(yaml);
        Assert.Multiple(() =>
        {
            Assert.That(ex.Problem, Does.Contain(problem));
            Assert.That((ex.Line, ex.Column), Is.EqualTo((line, column)), ex.Message);
            Assert.That(ex.Message, Does.StartWith($"{Source}:{line}:{column}: "));
        });
    }
}
