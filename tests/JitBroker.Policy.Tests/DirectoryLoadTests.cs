using JitBroker.Core;
using static JitBroker.Policy.Tests.PolicyDirectory;
using static JitBroker.Policy.Tests.TestData;

namespace JitBroker.Policy.Tests;

/// <summary>A directory of YAML files is one policy: merged in file-name order, ids unique across files.</summary>
public sealed class DirectoryLoadTests
{
    private PolicyDirectory _dir = null!;

    [SetUp]
    public void Create() => _dir = new PolicyDirectory();

    [TearDown]
    public void Remove() => _dir.Dispose();

    [Test]
    public void Files_merge_in_ordinal_name_order_and_first_allow_wins_across_files()
    {
        _dir.Write("20-late.yaml", Document(AllowRule("late", ttl: "9m")));
        _dir.Write("10-early.yml", Document(AllowRule("early", ttl: "1m")));

        var policy = YamlPolicyEngine.LoadDirectory(_dir.Path);
        var decision = policy.Decide(Agent(SupportBot), Request("x.read", "aud"));

        Assert.That(policy.SourceFiles.Select(Path.GetFileName), Is.EqualTo(new[] { "10-early.yml", "20-late.yaml" }));
        Assert.That(policy.RuleCount, Is.EqualTo(2));
        Assert.That(decision.RuleIds, Is.EqualTo(new[] { "early" }));
    }

    [Test]
    public void Deny_in_one_file_beats_allow_in_another()
    {
        _dir.Write("a-allow.yaml", Document(AllowRule("allow-delete", action: "x.delete")));
        _dir.Write("z-deny.yaml", Document("""
              - id: no-delete
                effect: deny
                principals: { trust_domains: [dev.jitbroker.local] }
                actions: ["*.delete"]
            """));

        var decision = YamlPolicyEngine.LoadDirectory(_dir.Path).Decide(Agent(SupportBot), Request("x.delete", "aud"));

        PolicyDecisionTests.AssertDenied(decision, "denied by rule no-delete", "no-delete");
    }

    [Test]
    public void Each_file_keeps_its_own_defaults()
    {
        _dir.Write("a.yaml", "version: 1\ndefaults: { max_ttl: 2m }\nrules:\n  - id: a\n    effect: allow\n" +
            "    principals: { spiffe_ids: [\"spiffe://dev.jitbroker.local/**\"] }\n    actions: [a.read]\n    credential: { audiences: [aud] }\n");
        _dir.Write("b.yaml", Document(AllowRule("b", action: "b.read", ttl: "20m")));

        var policy = YamlPolicyEngine.LoadDirectory(_dir.Path);

        Assert.That(policy.Decide(Agent(SupportBot), Request("a.read", "aud")).Grant!.Ttl, Is.EqualTo(TimeSpan.FromMinutes(2)));
        Assert.That(policy.Decide(Agent(SupportBot), Request("b.read", "aud")).Grant!.Ttl, Is.EqualTo(TimeSpan.FromMinutes(20)));
    }

    [Test]
    public void Duplicate_rule_id_across_files_names_both_files()
    {
        var first = _dir.Write("a.yaml", Document(AllowRule("same")));
        var second = _dir.Write("b.yaml", Document(AllowRule("other"), AllowRule("same")));

        var ex = Assert.Throws<PolicyLoadException>(() => YamlPolicyEngine.LoadDirectory(_dir.Path))!;

        Assert.That(ex.SourceName, Is.EqualTo(second));
        Assert.That((ex.Line, ex.Column), Is.EqualTo((8, 9)));
        Assert.That(ex.Message, Is.EqualTo($"{second}:8:9: duplicate rule id 'same' (first defined at {first}:3)"));
    }

    [Test]
    public void Error_in_a_later_file_names_that_file_line_and_column()
    {
        _dir.Write("a.yaml", Document(AllowRule("a")));
        var broken = _dir.Write("b.yaml", "version: 1\nrules:\n  - id: b\n    effect: alow\n");

        var ex = Assert.Throws<PolicyLoadException>(() => YamlPolicyEngine.LoadDirectory(_dir.Path))!;

        Assert.That(ex.Message, Does.StartWith($"{broken}:4:13: rule 'b': effect must be 'allow' or 'deny'"));
    }

    [Test]
    public void Subdirectories_hidden_files_and_other_extensions_are_ignored()
    {
        _dir.Write("policy.yaml", Document(AllowRule("only")));
        _dir.Write("tests/cases.yaml", "cases: []\n");
        _dir.Write(".hidden.yaml", "not: policy\n");
        _dir.Write("README.md", "# notes\n");
        _dir.Write("policy.yaml.bak", "garbage: [\n");

        Assert.That(YamlPolicyEngine.LoadDirectory(_dir.Path).RuleCount, Is.EqualTo(1));
    }

    [Test]
    public void Kubernetes_configmap_layout_is_read_once_through_its_symlinks()
    {
        // kubelet: ..2026_11_21_12_00_00.1/policy.yaml, ..data -> that directory, policy.yaml -> ..data/policy.yaml
        _dir.Write("..2026_11_21_12_00_00.1/policy.yaml", Document(AllowRule("from-configmap")));
        File.CreateSymbolicLink(Path.Combine(_dir.Path, "..data"), "..2026_11_21_12_00_00.1");
        File.CreateSymbolicLink(Path.Combine(_dir.Path, "policy.yaml"), "..data/policy.yaml");

        var policy = YamlPolicyEngine.LoadDirectory(_dir.Path);

        Assert.That(policy.RuleCount, Is.EqualTo(1));
        Assert.That(policy.Decide(Agent(SupportBot), Request("x.read", "aud")).RuleIds, Is.EqualTo(new[] { "from-configmap" }));
    }

    [Test]
    public void Empty_directory_is_a_load_error_not_deny_everything()
    {
        var ex = Assert.Throws<PolicyLoadException>(() => YamlPolicyEngine.LoadDirectory(_dir.Path))!;

        Assert.That(ex.Message, Does.Contain("holds no policy files"));
    }

    [Test]
    public void Deny_everything_is_written_as_an_empty_rule_list()
    {
        _dir.Write("policy.yaml", "version: 1\nrules: []\n");

        Assert.That(YamlPolicyEngine.LoadDirectory(_dir.Path).Decide(Agent(SupportBot), Request("x.read", "aud")).Effect,
            Is.EqualTo(DecisionEffect.Deny));
    }

    [Test]
    public void Load_accepts_a_file_or_a_directory_and_single_file_api_still_works()
    {
        var file = _dir.Write("policy.yaml", Document(AllowRule("r")));

        Assert.That(YamlPolicyEngine.Load(file).SourceFiles, Is.EqualTo(new[] { file }));
        Assert.That(YamlPolicyEngine.Load(_dir.Path).SourceFiles, Is.EqualTo(new[] { file }));
        Assert.That(YamlPolicyEngine.LoadFile(file).RuleCount, Is.EqualTo(1));
        Assert.That(() => YamlPolicyEngine.LoadFile(_dir.Path), Throws.TypeOf<PolicyLoadException>());
        Assert.That(() => YamlPolicyEngine.LoadDirectory(file), Throws.TypeOf<PolicyLoadException>());
    }

    [Test]
    public void Content_hash_follows_content_and_names()
    {
        _dir.Write("a.yaml", Document(AllowRule("a")));
        var first = YamlPolicyEngine.LoadDirectory(_dir.Path).ContentHash;
        var again = YamlPolicyEngine.LoadDirectory(_dir.Path).ContentHash;
        _dir.Write("a.yaml", Document(AllowRule("a", ttl: "6m")));
        var edited = YamlPolicyEngine.LoadDirectory(_dir.Path).ContentHash;
        File.Move(Path.Combine(_dir.Path, "a.yaml"), Path.Combine(_dir.Path, "b.yaml"));
        var renamed = YamlPolicyEngine.LoadDirectory(_dir.Path).ContentHash;

        Assert.That(first, Does.StartWith("sha256:").And.EqualTo(again));
        Assert.That(new[] { first, edited, renamed }, Is.Unique);
    }
}
