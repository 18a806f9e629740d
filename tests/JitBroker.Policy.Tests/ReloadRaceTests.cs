using System.Collections.Concurrent;
using JitBroker.Core;
using static JitBroker.Policy.Tests.TestData;

namespace JitBroker.Policy.Tests;

/// <summary>Decisions racing reloads: no exception, and every decision entirely from one policy version.</summary>
public sealed class ReloadRaceTests
{
    // Each version grants a different tool and TTL under a different rule id, so a decision mixing two versions
    // (rule of one, grant of the other) would show.
    private static string Version(string id, string tool, string ttl) => $$"""
        version: 1
        rules:
          - id: {{id}}
            effect: allow
            principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/**"] }
            actions: ["x.read"]
            tools: ["{{tool}}"]
            credential: { audiences: [aud], max_ttl: {{ttl}} }
        """;

    [Test]
    public async Task Many_threads_decide_while_reloads_swap_policies()
    {
        using var dir = new PolicyDirectory();
        dir.Write("policy.yaml", Version("alpha", "t-alpha", "1m"));
        using var engine = new ReloadingPolicyEngine(dir.Path, TimeSpan.Zero);
        var request = Request("x.read", "aud", tools: ["t-alpha", "t-beta"]);
        var seen = new ConcurrentDictionary<string, int>();
        var errors = new ConcurrentQueue<string>();
        using var done = new CancellationTokenSource();

        var deciders = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            var count = 0;
            while (!done.IsCancellationRequested || count == 0)
            {
                var decision = engine.Decide(Agent(SupportBot), request);
                var signature = $"{decision.RuleIds.Single()}|{string.Join(",", decision.Grant!.Scope.Tools)}|{decision.Grant.Ttl.TotalMinutes}";
                if (signature is not ("alpha|t-alpha|1" or "beta|t-beta|2"))
                {
                    errors.Enqueue(signature);
                }

                seen.AddOrUpdate(decision.RuleIds[0], 1, (_, n) => n + 1);
                count++;
            }
        })).ToArray();

        var results = new List<PolicyReloadResult>();
        for (var i = 0; i < 150; i++)
        {
            // Every fifth write is broken: the old version must stay in force through it.
            dir.Write("policy.yaml", i % 5 == 4 ? "version: 1\nrules: [\n" : i % 2 == 0 ? Version("beta", "t-beta", "2m") : Version("alpha", "t-alpha", "1m"));
            results.Add(await engine.ReloadNowAsync());
        }

        await done.CancelAsync();
        await Task.WhenAll(deciders).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.That(errors, Is.Empty, "decisions mixing versions");
        Assert.That(seen.Keys, Is.EquivalentTo(new[] { "alpha", "beta" }));
        Assert.That(results.Count(r => !r.Succeeded), Is.EqualTo(30));
        Assert.That(results.Select(r => r.Version), Is.Ordered, "versions only grow");
        Assert.That(engine.Version, Is.EqualTo(1 + results.Count(r => r.Changed)));
    }
}
