using JitBroker.Core;

namespace JitBroker.Policy.Tests;

/// <summary>The shipped example policy set (examples/policies) loads and passes its own YAML tests.</summary>
public sealed class ExamplePolicyTests
{
    internal static readonly string ExamplesPath = Path.Combine(TestContext.CurrentContext.TestDirectory, "examples", "policies");

    [Test]
    public void Example_set_loads_every_file_in_name_order()
    {
        var policy = YamlPolicyEngine.LoadDirectory(ExamplesPath);

        Assert.That(policy.SourceFiles.Select(Path.GetFileName), Is.EqualTo(new[]
        {
            "00-guardrails.yaml", "10-support.yaml", "20-reporting.yaml", "30-kubernetes.yaml", "40-vault.yaml",
        }));
        Assert.That(policy.RuleCount, Is.EqualTo(12));
    }

    [Test]
    public void Example_set_passes_its_tests()
    {
        var policy = YamlPolicyEngine.LoadDirectory(ExamplesPath);

        var report = PolicyTestRunner.Run(policy, PolicyTestRunner.DefaultTestsPath(ExamplesPath));

        var failures = report.Results.Where(r => !r.Passed).Select(r => $"{r.Name}: {string.Join("; ", r.Mismatches)}");
        Assert.That(failures, Is.Empty);
        Assert.That(report.Results, Has.Count.GreaterThanOrEqualTo(25));
        Assert.That(report.AllPassed, Is.True);
    }

    [Test]
    public void Example_tests_cover_every_rule_and_every_effect()
    {
        var policy = YamlPolicyEngine.LoadDirectory(ExamplesPath);

        var report = PolicyTestRunner.Run(policy, PolicyTestRunner.DefaultTestsPath(ExamplesPath));

        var decidedBy = report.Results.SelectMany(r => r.Decision!.RuleIds).ToHashSet();
        Assert.That(policy.Rules.Select(r => r.Id).Where(id => !decidedBy.Contains(id)), Is.Empty, "rules no test case exercises");
        Assert.That(report.Results.Select(r => r.Decision!.Effect).Distinct(),
            Is.EquivalentTo(new[] { DecisionEffect.Allow, DecisionEffect.Deny, DecisionEffect.NeedsApproval }));
    }
}
