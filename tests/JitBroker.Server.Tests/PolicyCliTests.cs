using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>jitctl policy check / test / explain as a policy author runs them (separate processes).</summary>
public sealed class PolicyCliTests
{
    private static readonly Uri Unused = new("http://127.0.0.1:9");

    private static string Examples => Path.GetFullPath(Path.Combine(TestContext.CurrentContext.TestDirectory, "../../../../../examples/policies"));

    [Test]
    public async Task Check_accepts_the_example_set_and_names_file_line_and_column_of_an_error()
    {
        var ok = await Jitctl.RunAsync(Unused, null, "policy", "check", Examples);
        Assert.That(ok.Code, Is.Zero, ok.ToString());

        using var broken = new PolicyDirectory().Write("10-broken.yaml", "version: 1\nrules:\n  - id: x\n    effect: maybe\n");
        var bad = await Jitctl.RunAsync(Unused, null, "policy", "check", broken.Path);
        Assert.That(bad.Code, Is.EqualTo(2), bad.ToString());
        Assert.That(bad.Out + bad.Err, Does.Match(@"10-broken\.yaml:4:\d+"));
    }

    [Test]
    public async Task Test_runs_the_example_tests_and_fails_on_a_wrong_expectation()
    {
        var ok = await Jitctl.RunAsync(Unused, null, "policy", "test", Examples);
        Assert.That(ok.Code, Is.Zero, ok.ToString());
        Assert.That(ok.Out, Does.Match(@"\d+ passed, 0 failed"));

        using var policy = new PolicyDirectory()
            .Write("10-p.yaml", """
                version: 1
                rules:
                  - id: read
                    effect: allow
                    principals: { spiffe_ids: ["spiffe://t.example/a"] }
                    actions: ["x.read"]
                    credential: { kind: jwt, audiences: ["aud"], max_ttl: 5m }
                """);
        Directory.CreateDirectory(Path.Combine(policy.Path, "tests"));
        File.WriteAllText(Path.Combine(policy.Path, "tests", "wrong.yaml"), """
            cases:
              - name: a write is expected to be allowed (it is not)
                request: { agent: "spiffe://t.example/a", action: x.write, target: aud }
                expect: { effect: allow, rule_ids: [read] }
            """);
        var failing = await Jitctl.RunAsync(Unused, null, "policy", "test", policy.Path);
        Assert.That(failing.Code, Is.Not.Zero, failing.ToString());
        Assert.That(failing.Out, Does.Contain("FAIL"));
    }

    [Test]
    public async Task Explain_prints_the_decision_path()
    {
        var explained = await Jitctl.RunAsync(Unused, null, "policy", "explain", Examples,
            "--agent", "spiffe://corp.example/agents/support-bot", "--action", "tickets.delete", "--target", "https://tickets.corp.example");
        Assert.That(explained.Out, Does.Contain("deny").IgnoreCase, explained.ToString());
    }
}
