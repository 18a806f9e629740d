using JitBroker.Core;

namespace JitBroker.Policy.Tests.Conformance;

/// <summary>The immutable engine over policy text.</summary>
[TestFixture]
public sealed class YamlPolicyEngineConformanceTests : PolicyEngineConformanceTests
{
    protected override IPolicyEngine Create(string yaml, TimeProvider time) => YamlPolicyEngine.Parse(yaml, "conformance.yaml", time);
}

/// <summary>The reloading engine over a policy file on disk (polling off: the suite judges decisions, not reloads).</summary>
[TestFixture]
public sealed class ReloadingPolicyEngineConformanceTests : PolicyEngineConformanceTests
{
    private string? _dir;

    protected override IPolicyEngine Create(string yaml, TimeProvider time)
    {
        _dir = Directory.CreateTempSubdirectory("jitbroker-policy-conformance-").FullName;
        var path = Path.Combine(_dir, "policy.yaml");
        File.WriteAllText(path, yaml);
        return new ReloadingPolicyEngine(path, TimeSpan.Zero, time);
    }

    protected override void Destroy()
    {
        if (_dir is not null)
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}
