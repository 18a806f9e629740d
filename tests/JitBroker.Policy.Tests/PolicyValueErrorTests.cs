using static JitBroker.Policy.Tests.TestData;

namespace JitBroker.Policy.Tests;

/// <summary>Well-typed values that are still wrong: globs, durations, ids, versions, YAML features we refuse.</summary>
public sealed class PolicyValueErrorTests
{
    private const string Source = "p.yaml";

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

    // ---- globs: reported on the pattern ----
    [TestCase("x.***", "three or more consecutive '*'")]
    [TestCase("", "must not be empty")]
    [TestCase("x.read ", "leading or trailing white space")]
    [TestCase("x. read", "may contain only A-Z a-z 0-9")]
    [TestCase("x.read\\t", "control character")]
    public void Bad_action_pattern(string pattern, string problem) =>
        AssertFails(Replace(7, $"    actions: [\"{pattern}\"]"), 7, 15, problem);

    [TestCase("zen desk", "may contain only A-Z a-z 0-9")]
    [TestCase("zen***", "three or more consecutive '*'")]
    public void Bad_tool_pattern(string pattern, string problem) =>
        AssertFails(Insert(8, $"    tools: [\"{pattern}\"]"), 8, 13, problem);

    [TestCase("tickets/***", "three or more consecutive '*'")]
    [TestCase("", "must not be empty")]
    public void Bad_resource_pattern(string pattern, string problem) =>
        AssertFails(Insert(8, $"    resources: [ok/*, \"{pattern}\"]"), 8, 23, problem);

    [TestCase("spiffe://*/agents/a")]
    [TestCase("spiffe://dev*/agents/a")]
    [TestCase("spiffe://**")]
    [TestCase("https://td/agents/a")]
    [TestCase("spiffe://TD/agents/a")]
    [TestCase("spiffe://td/")]
    [TestCase("spiffe://td")]
    [TestCase("spiffe:///agents/a")]
    [TestCase("agents/a")]
    public void Spiffe_pattern_needs_a_literal_trust_domain(string pattern) =>
        AssertFails(Replace(6, $"      spiffe_ids: [\"{pattern}\"]"), 6, 20, "is not a SPIFFE ID pattern");

    [Test]
    public void Spiffe_pattern_is_also_a_valid_glob() =>
        AssertFails(Replace(6, "      spiffe_ids: [\"spiffe://td/a***\"]"), 6, 20, "three or more consecutive '*'");

    // ---- durations: reported on the value ----
    [TestCase("10", "is not a duration")]
    [TestCase("1.5m", "is not a duration")]
    [TestCase("1h30m", "is not a duration")]
    [TestCase("10M", "is not a duration")]
    [TestCase("-5m", "is not a duration")]
    [TestCase("5 m", "is not a duration")]
    [TestCase("PT5M", "is not a duration")]
    [TestCase("5d", "is not a duration")]
    [TestCase("m", "is not a duration")]
    [TestCase("1234567890s", "is not a duration")]
    [TestCase("0m", "must be greater than zero")]
    [TestCase("0s", "must be greater than zero")]
    [TestCase("25h", "exceeds the limit of 24h")]
    [TestCase("1441m", "exceeds the limit of 24h")]
    [TestCase("86401s", "exceeds the limit of 24h")]
    public void Bad_rule_max_ttl(string value, string problem) =>
        AssertFails(Replace(10, $"      max_ttl: {value}"), 10, 16, problem);

    [TestCase("24h")]
    [TestCase("1440m")]
    [TestCase("30s")]
    [TestCase("\"10m\"")]
    public void Accepts_well_formed_durations(string value) =>
        Assert.That(YamlPolicyEngine.Parse(Replace(10, $"      max_ttl: {value}"), Source).RuleCount, Is.EqualTo(1));

    [TestCase("1x", "is not a duration")]
    [TestCase("0s", "must be greater than zero")]
    public void Bad_default_max_ttl(string value, string problem) =>
        AssertFails(Insert(2, $"defaults: {{max_ttl: {value}}}"), 2, 21, problem);

    [Test]
    public void Rule_max_ttl_above_default_is_a_contradiction() =>
        AssertFails(Insert(2, "defaults:", "  max_ttl: 4m"), 12, 16, "credential.max_ttl 5m exceeds defaults.max_ttl 4m");

    [Test]
    public void Rule_max_ttl_equal_to_default_is_fine() =>
        Assert.That(YamlPolicyEngine.Parse(Insert(2, "defaults:", "  max_ttl: 5m"), Source).RuleCount, Is.EqualTo(1));

    [Test]
    public void Default_max_ttl_alone_bounds_an_allow_rule() =>
        Assert.That(YamlPolicyEngine.Parse(Lines([Valid[0], "defaults: {max_ttl: 1m}", .. Valid[1..9]]), Source).RuleCount, Is.EqualTo(1));

    // ---- version ----
    [TestCase("2", "unsupported policy version 2; this broker reads version 1")]
    [TestCase("0", "unsupported policy version 0")]
    [TestCase("-1", "version must be the integer 1")]
    [TestCase("one", "version must be the integer 1")]
    public void Bad_version(string value, string problem) =>
        AssertFails(Replace(1, $"version: {value}"), 1, 10, problem);

    [Test]
    public void Newer_version_is_reported_before_its_unknown_keys() =>
        AssertFails(Lines(["version: 2", "imports: [a.yaml]", .. Valid[1..]]), 1, 10, "unsupported policy version 2");

    // ---- ids and names ----
    [TestCase("Bad-Id")]
    [TestCase("\"a b\"")]
    [TestCase("\"\"")]
    [TestCase("r/1")]
    [TestCase("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    public void Bad_rule_id(string id) =>
        AssertFails(Replace(3, $"  - id: {id}"), 3, 9, "must be 1-64 characters of a-z 0-9 - _ .");

    [Test]
    public void Longest_rule_id_is_accepted() =>
        Assert.That(YamlPolicyEngine.Parse(Replace(3, $"  - id: {new string('a', 64)}"), Source).RuleCount, Is.EqualTo(1));

    [TestCase("JWT")]
    [TestCase("\"\"")]
    [TestCase("vault token")]
    public void Bad_credential_kind(string kind) =>
        AssertFails(Insert(9, $"      kind: {kind}"), 9, 13, "credential.kind");

    [TestCase("https://*.example", 19, "audiences are exact values, not patterns")]
    [TestCase("https://a b", 19, "without spaces")]
    [TestCase("", 19, "without spaces")]
    public void Bad_audience(string audience, int column, string problem) =>
        AssertFails(Replace(9, $"      audiences: [\"{audience}\"]"), 9, column, problem);

    [Test]
    public void Reason_must_be_one_line() =>
        AssertFails(DenyRule("    reason: \"first\\nsecond\""), 7, 13, "reason must be one line");

    [Test]
    public void Description_must_be_printable() =>
        AssertFails(Insert(4, "    description: \"bell\\a\""), 4, 18, "description must be 1-1024 printable characters");

    // ---- keys that belong to the other effect: reported on the key ----
    [TestCase("    tools: [zendesk]", "'tools' applies only to allow rules")]
    [TestCase("    resources: [\"tickets/*\"]", "'resources' applies only to allow rules")]
    [TestCase("    credential: {audiences: [x]}", "'credential' applies only to allow rules")]
    public void Deny_rule_cannot_be_narrowed_by_grant_fields(string line, string problem) =>
        AssertFails(DenyRule(line), 7, 5, problem);

    [Test]
    public void Allow_rule_cannot_carry_a_reason() =>
        AssertFails(Insert(8, "    reason: because"), 8, 5, "'reason' applies only to deny rules");

    // ---- YAML features we refuse ----
    [Test]
    public void Anchors_and_aliases_are_refused() =>
        AssertFails(Replace(7, "    actions: &acts [\"x.read\"]"), 7, 14, "anchors and aliases are not supported");

    [Test]
    public void Self_referencing_alias_is_refused_without_looping() =>
        AssertFails(Lines("version: 1", "rules: &r [*r]"), 2, 8, "anchors and aliases are not supported");

    [Test]
    public void Explicit_tags_are_refused() =>
        AssertFails(Replace(4, "    effect: !!str allow"), 4, 13, "explicit tags are not supported");

    [Test]
    public void Several_documents_are_refused() =>
        AssertFails(Lines([.. Valid, "---", "version: 1"]), 12, 1, "exactly one YAML document");

    [TestCase("[a]: 1", 1, 1)]
    [TestCase("version: 1\n\"\": 1", 2, 1)]
    public void Keys_must_be_non_empty_strings(string yaml, int line, int column) =>
        AssertFails(yaml, line, column, "mapping keys must be non-empty strings");

    [TestCase("")]
    [TestCase("# just a comment\n")]
    public void Empty_document_is_refused(string yaml) =>
        AssertFails(yaml, 1, 1, "the policy document is empty");

    [Test]
    public void Unclosed_flow_list_is_reported_where_it_opens() =>
        AssertFails(Replace(7, "    actions: [\"x.read\""), 7, 14, "flow collection ('[...]' or '{...}') is not closed");

    [Test]
    public void Syntax_error_has_the_parser_position() =>
        AssertFails(Replace(4, "   effect: allow"), 4, 4, "invalid YAML: ");

    private static string DenyRule(string extraLine) => Lines(
        "version: 1",
        "rules:",
        "  - id: d1",
        "    effect: deny",
        "    principals: {spiffe_ids: [\"spiffe://td/**\"]}",
        "    actions: [\"*.delete\"]",
        extraLine);

    private static string Replace(int line, string replacement)
    {
        var lines = (string[])Valid.Clone();
        lines[line - 1] = replacement;
        return Lines(lines);
    }

    private static string Insert(int beforeLine, params string[] inserted) =>
        Lines([.. Valid[..(beforeLine - 1)], .. inserted, .. Valid[(beforeLine - 1)..]]);

    private static void AssertFails(string yaml, int line, int column, string problem)
    {
        var ex = Assert.Throws<PolicyLoadException>(() => YamlPolicyEngine.Parse(yaml, Source))!;
        Assert.Multiple(() =>
        {
            Assert.That(ex.Problem, Does.Contain(problem));
            Assert.That((ex.Line, ex.Column), Is.EqualTo((line, column)), ex.Message);
        });
    }
}
