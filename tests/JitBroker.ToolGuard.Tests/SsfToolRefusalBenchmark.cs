using System.Diagnostics;
using System.Globalization;
using System.Net;
using JitBroker.ToolGuard.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using NUnit.Framework;

namespace JitBroker.ToolGuard.Tests;

/// <summary>
/// docs/benchmarks.md "Revocation → refusal at the tool: push vs introspection vs JWKS only" (issue 20 item 4): the
/// companion of Server.Tests' SsfLatencyBenchmark, here because the tool host (ToolServer) lives here. Explicit: run by
/// hand (<c>dotnet test tests/JitBroker.ToolGuard.Tests --filter Category=SsfBenchmark</c>); numbers go to the test output.
/// </summary>
[Explicit("a measurement, run by hand")]
[Category("SsfBenchmark")]
[NonParallelizable]
public sealed class SsfToolRefusalBenchmark
{
    private static string P(List<double> ms, double q) =>
        ms.Order().ElementAt((int)Math.Min(ms.Count - 1, Math.Ceiling(q * ms.Count) - 1)).ToString("0.0", CultureInfo.InvariantCulture);

    private static string Summary(List<double> ms) => $"n={ms.Count} p50 {P(ms, 0.5)} ms, p99 {P(ms, 0.99)} ms, max {ms.Max():0.0} ms, min {ms.Min():0.0} ms";

    [Test]
    public async Task Revocation_to_refusal_at_the_tool_push_vs_introspection_cache_vs_jwks_only()
    {
        await using var broker = await SsfBroker.StartAsync();
        // Defaults except what each mode is about: push (introspection cache 30 s while push is healthy), introspection
        // (CacheDuration 1 s, the default), JWKS only (no introspection, no push).
        await using var push = await ToolServer.StartAsync(o => Tool(o, broker, push: true, introspection: true));
        await using var cache = await ToolServer.StartAsync(o => Tool(o, broker, push: false, introspection: true));
        await using var jwks = await ToolServer.StartAsync(o => Tool(o, broker, push: false, introspection: false));
        await SsfBroker.WaitUntilHealthyAsync(push);
        using var http = new HttpClient();
        var samples = new Dictionary<string, List<double>> { ["push"] = [], ["cache"] = [] };
        for (var i = 0; i < 110; i++)
        {
            foreach (var (name, tool) in new[] { ("push", push), ("cache", cache) })
            {
                var agent = Broker.Agent($"bench-{name}-{i}");
                var token = await broker.TokenAsync(agent);
                Assert.That(await StatusAsync(http, tool, token), Is.EqualTo(HttpStatusCode.OK)); // the cache now holds "active" (worst case)
                await broker.RevokeAsync(agent, token);
                var watch = Stopwatch.StartNew();
                while (await StatusAsync(http, tool, token) != HttpStatusCode.Unauthorized)
                {
                    Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(60)), name + ": never refused");
                    await Task.Delay(5);
                }

                if (i >= 10)
                {
                    samples[name].Add(watch.Elapsed.TotalMilliseconds);
                }
            }
        }

        var stillAccepted = 0;
        for (var i = 0; i < 3; i++)
        {
            var agent = Broker.Agent($"bench-jwks-{i}");
            var token = await broker.TokenAsync(agent);
            await broker.RevokeAsync(agent, token);
            await Task.Delay(TimeSpan.FromSeconds(5));
            stillAccepted += await StatusAsync(http, jwks, token) == HttpStatusCode.OK ? 1 : 0;
        }

        TestContext.Out.WriteLine("revocation answered -> first refused call at the tool (5 ms polling):");
        TestContext.Out.WriteLine($"  push (SSF, ToolGuard receiver):        {Summary(samples["push"])}");
        TestContext.Out.WriteLine($"  introspection, CacheDuration 1 s:      {Summary(samples["cache"])}");
        TestContext.Out.WriteLine($"  JWKS only: {stillAccepted}/3 still accepted 5 s after the revocation (accepted until exp + ClockSkew)");
        Assert.That(stillAccepted, Is.EqualTo(3));
    }

    [Test]
    public async Task Kill_switch_over_10000_credentials_to_refusal_at_the_tool_with_push()
    {
        const int count = 10_000;
        await using var broker = await SsfBroker.StartAsync();
        await using var tool = await ToolServer.StartAsync(o => Tool(o, broker, push: true, introspection: true));
        await SsfBroker.WaitUntilHealthyAsync(tool);
        var agent = Broker.Agent("bulk");
        var tokens = new string[count];
        var issue = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 8 },
            async (i, _) => tokens[i] = await broker.TokenAsync(agent));
        TestContext.Out.WriteLine($"issued {count} in {issue.Elapsed.TotalSeconds:0.0} s");
        // What the tool's check (PushedRevocations, run by every request) would answer for each credential, read directly
        // so that measuring 10,000 credentials does not cost 10,000 HTTP calls per pass on the same two cores.
        var parsed = tokens.Select(t => new JsonWebToken(t)).ToArray();
        var ids = parsed.Select(t => t.Id).ToArray();
        var issuedAt = parsed.Select(t => (DateTimeOffset?)DateTimeOffset.FromUnixTimeSeconds(t.GetPayloadValue<long>("iat"))).ToArray();
        var perCredential = tool.Services.GetRequiredService<IRevocationSignal>();
        var subjects = tool.Services.GetRequiredService<SubjectRevocations>();
        var byAnyEvent = new double[count];
        var byOwnEvent = new double[count];
        Array.Fill(byAnyEvent, double.NaN);
        Array.Fill(byOwnEvent, double.NaN);

        var watch = Stopwatch.StartNew();
        var block = SsfBroker.BlockAsync(broker, agent).ContinueWith(_ => watch.Elapsed.TotalMilliseconds, TaskScheduler.Default);
        int refused = 0, own = 0;
        while ((refused < count || own < count) && watch.Elapsed < TimeSpan.FromMinutes(3))
        {
            var now = watch.Elapsed.TotalMilliseconds;
            for (var i = 0; i < count; i++)
            {
                var mine = double.IsNaN(byOwnEvent[i]) && perCredential.IsRevoked(ids[i]);
                if (mine)
                {
                    byOwnEvent[i] = now;
                    own++;
                }

                if (double.IsNaN(byAnyEvent[i]) && (mine || !double.IsNaN(byOwnEvent[i]) || subjects.IsRevoked(agent, issuedAt[i])))
                {
                    byAnyEvent[i] = now;
                    refused++;
                }
            }

            await Task.Delay(5);
        }

        var blockReturned = await block;
        using var http = new HttpClient();
        var sample = Enumerable.Range(0, 100).Select(i => tokens[i * (count / 100)]).ToList();
        var refusedOverHttp = 0;
        foreach (var token in sample)
        {
            refusedOverHttp += await StatusAsync(http, tool, token) == HttpStatusCode.Unauthorized ? 1 : 0;
        }

        TestContext.Out.WriteLine($"kill switch over {count} (BlockAsync started at 0, returned at {blockReturned:0} ms):");
        TestContext.Out.WriteLine($"  refused at the tool (subject-level or own event): {Summary([.. byAnyEvent.Where(d => !double.IsNaN(d))])}");
        TestContext.Out.WriteLine($"  per-credential events only (a receiver that ignores iss_sub): {Summary([.. byOwnEvent.Where(d => !double.IsNaN(d))])}");
        TestContext.Out.WriteLine($"  {refusedOverHttp}/100 sampled tokens refused over HTTP afterwards");
        Assert.That(refused, Is.EqualTo(count));
        Assert.That(own, Is.EqualTo(count), "a per-credential event was lost");
        Assert.That(refusedOverHttp, Is.EqualTo(100));
    }

    private static void Tool(ToolGuardOptions o, Broker broker, bool push, bool introspection)
    {
        o.Issuer = broker.Issuer;
        o.WorkloadToken = broker.ToolSvidAsync;
        o.UseReports.Enabled = false;
        o.Introspection.Enabled = introspection;
        o.Signals.Enabled = push;
    }

    private static async Task<HttpStatusCode> StatusAsync(HttpClient http, ToolServer tool, string token)
    {
        using var response = await http.SendAsync(Challenges.Get(tool.BaseUrl + "/tickets/42", token: token));
        return response.StatusCode;
    }
}
