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
            "00-guardrails.yaml", "10-support.yaml", "20-reporting.yaml", "30-kubernetes.yaml", "40-vault.yaml", "50-delegation.yaml",
        }));
        Assert.That(policy.RuleCount, Is.EqualTo(12));
        Assert.That(policy.DelegationCount, Is.EqualTo(4));
    }

    [Test]
    public void Example_set_passes_its_tests()
    {
        var policy = YamlPolicyEngine.LoadDirectory(ExamplesPath);

        var report = PolicyTestRunner.Run(policy, PolicyTestRunner.DefaultTestsPath(ExamplesPath));

        var failures = report.Results.Where(r => !r.Passed).Select(r => $"{r.Name}: {string.Join("; ", r.Mismatches)}");
        Assert.That(failures, Is.Empty);
        Assert.That(report.Results, Has.Count.GreaterThanOrEqualTo(37));
        Assert.That(report.Results.Count(r => r.Delegation is not null), Is.GreaterThanOrEqualTo(12));
        Assert.That(report.AllPassed, Is.True);
    }

    [Test]
    public void Example_tests_cover_every_rule_and_every_effect()
    {
        var policy = YamlPolicyEngine.LoadDirectory(ExamplesPath);

        var report = PolicyTestRunner.Run(policy, PolicyTestRunner.DefaultTestsPath(ExamplesPath));

        var requests = report.Results.Where(r => r.Decision is not null).ToList();
        var delegations = report.Results.Where(r => r.Delegation is not null).ToList();
        Assert.That(requests.Count + delegations.Count, Is.EqualTo(report.Results.Count), "every case decided something");

        var decidedBy = requests.SelectMany(r => r.Decision!.RuleIds).ToHashSet();
        Assert.That(policy.Rules.Select(r => r.Id).Where(id => !decidedBy.Contains(id)), Is.Empty, "rules no test case exercises");
        Assert.That(requests.Select(r => r.Decision!.Effect).Distinct(),
            Is.EquivalentTo(new[] { DecisionEffect.Allow, DecisionEffect.Deny, DecisionEffect.NeedsApproval }));

        var allowedBy = delegations.SelectMany(r => r.Delegation!.RuleIds).ToHashSet();
        Assert.That(policy.Delegations.Select(d => d.Id).Where(id => !allowedBy.Contains(id)), Is.Empty, "delegations no test case exercises");
        Assert.That(delegations.Select(r => r.Delegation!.Allowed).Distinct(), Is.EquivalentTo(new[] { true, false }));
    }
}
