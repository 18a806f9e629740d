using System.Diagnostics;
using System.Globalization;
using JitBroker.Cli;
using JitBroker.Protocol.V1;
using JitBroker.Server.Ssf;
using Microsoft.IdentityModel.Tokens;
using NUnit.Framework;

namespace JitBroker.Server.Tests.Ssf;

/// <summary>
/// docs/benchmarks.md "Shared Signals push": EndTask → SET accepted at the independent python3-jwt receiver (p50/p99 over
/// sequential tasks) and a kill switch over 10,000 credentials → every SET accepted at the .NET receiver. Explicit: run by
/// hand (<c>dotnet test --filter Category=SsfBenchmark</c>), numbers written to the test output.
/// </summary>
[Explicit("a measurement, run by hand")]
[Category("SsfBenchmark")]
[NonParallelizable]
public sealed class SsfLatencyBenchmark
{
    private const string Tickets = "spiffe://dev.jitbroker.local/tools/tickets";

    private static Task<BrokerServerFixture> StartAsync() => OAuthDoor.StartAsync(new Dictionary<string, string?>
    {
        ["JitBroker:Ssf:Enabled"] = "true",
        ["JitBroker:Ssf:AllowLoopbackHttp"] = "true",
        ["JitBroker:Ssf:Receivers:0:Identity"] = Tickets,
        ["JitBroker:Ssf:Receivers:0:Audiences:0"] = BrokerServerFixture.TicketsAudience,
        ["JitBroker:Ssf:PollInterval"] = "00:00:00.100",
        ["JitBroker:Admin:Principals:0"] = E2E.AdminPattern,
    });

    private static async Task<string> StreamAsync(BrokerServerFixture broker, HttpClient http, string url)
    {
        var r = await SsfCalls.SendAsync(http, HttpMethod.Post, OAuthDoor.Issuer(broker) + SsfEndpoints.StreamsPath,
            broker.Dev.MintSvid(Tickets, "jitbroker", TimeSpan.FromMinutes(5)),
            new { delivery = new { method = "urn:ietf:rfc:8935", endpoint_url = url }, events_requested = new[] { SignalEventTypes.SessionRevoked } });
        return r.Body.GetProperty("stream_id").GetString()!;
    }

    private static string P(List<double> ms, double q) => ms.Order().ElementAt((int)Math.Min(ms.Count - 1, Math.Ceiling(q * ms.Count) - 1)).ToString("0.0", CultureInfo.InvariantCulture);

    [Test]
    public async Task EndTask_to_set_at_the_python_receiver()
    {
        await using var broker = await StartAsync();
        using var http = new HttpClient();
        using var client = broker.Client();
        var issuer = OAuthDoor.Issuer(broker);
        await using var python = await PythonSetReceiver.StartAsync(issuer + "/.well-known/jwks.json", issuer, BrokerServerFixture.TicketsAudience);
        await StreamAsync(broker, http, python.Url);
        var samples = new List<double>();
        for (var i = 0; i < 220; i++)
        {
            var svid = broker.Svid();
            var issued = await client.RequestCredentialAsync(svid, E2E.Tickets($"bench-{i}"));
            var watch = Stopwatch.StartNew();
            await client.EndTaskAsync(svid, $"bench-{i}");
            Assert.That(await python.WaitForAsync(issued.LeaseId, TimeSpan.FromSeconds(10)), Is.Not.Null);
            if (i >= 20)
            {
                samples.Add(watch.Elapsed.TotalMilliseconds);
            }
        }

        TestContext.Out.WriteLine($"EndTask -> SET at python3-jwt receiver, n={samples.Count}: p50 {P(samples, 0.5)} ms, p99 {P(samples, 0.99)} ms, max {samples.Max():0.0} ms");
    }

    [Test]
    public async Task Kill_switch_over_10000_credentials_to_sets_at_the_dotnet_receiver()
    {
        const int count = 10_000;
        await using var broker = await StartAsync();
        using var http = new HttpClient();
        using var client = broker.Client();
        await using var dotnet = await DotnetSetReceiver.StartAsync();
        dotnet.Keys = new JsonWebKeySet(await http.GetStringAsync(OAuthDoor.Issuer(broker) + "/.well-known/jwks.json"));
        dotnet.Audience = BrokerServerFixture.TicketsAudience;
        await StreamAsync(broker, http, dotnet.Url);
        const string agent = BrokerServerFixture.SupportBot;
        var issue = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, _) =>
            await client.RequestCredentialAsync(broker.Svid(agent), E2E.Tickets($"bulk-{i}")));
        TestContext.Out.WriteLine($"issued {count} in {issue.Elapsed.TotalSeconds:0.0} s");

        using var admin = E2E.Admin(broker);
        var watch = Stopwatch.StartNew();
        await admin.BlockAsync(new BlockAgentRequest { Pattern = agent, Reason = "benchmark" });
        var blocked = watch.Elapsed;
        var firstAt = TimeSpan.Zero;
        while (dotnet.Accepted.Count < count && watch.Elapsed < TimeSpan.FromMinutes(2))
        {
            if (firstAt == TimeSpan.Zero && dotnet.Accepted.Count > 0)
            {
                firstAt = watch.Elapsed;
            }

            await Task.Delay(5);
        }

        TestContext.Out.WriteLine($"kill switch over {count}: BlockAgent returned in {blocked.TotalMilliseconds:0} ms, first SET at {firstAt.TotalMilliseconds:0} ms, " +
            $"{dotnet.Accepted.Count} SETs accepted in {watch.Elapsed.TotalMilliseconds:0} ms");
        Assert.That(dotnet.Accepted.Count, Is.EqualTo(count));
    }
}
