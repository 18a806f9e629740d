using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using JitBroker.Cli;
using JitBroker.Protocol.V1;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// Issue 17 item 3, proven over real Kestrel: ≥ 20,000 calls with no or garbage <c>authorization</c>, from other
/// loopback addresses, while one agent keeps requesting credentials. The agent's p99 stays within 2× its baseline and
/// the audit file grows by a bounded amount. Before the fix every failed call appended an fsynced record to the queue
/// issuance waits on (the reviewer measured 8 MiB of audit for 24,000 calls).
/// </summary>
[NonParallelizable]
public sealed class UnauthenticatedFloodTests
{
    private const int FloodCalls = 24_000;
    private const int FloodWorkers = 16;
    private const int SummarySeconds = 2;
    private const long BytesPerInterval = 64 * 1024;
    private static readonly string[] FloodPeers = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"];

    private AnyAgentTicketsBroker _tickets = null!;
    private BrokerServerFixture _broker = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _tickets = await AnyAgentTicketsBroker.StartAsync([], new Dictionary<string, string?>
        {
            ["JitBroker:Admission:FailureSummaryInterval"] = $"00:00:{SummarySeconds:00}",
        });
        _broker = _tickets.Broker;
    }

    [OneTimeTearDown]
    public async Task Stop() => await _tickets.DisposeAsync();

    [Test, CancelAfter(240_000)]
    public async Task An_agent_keeps_its_latency_and_the_audit_file_stays_small_during_an_unauthenticated_flood()
    {
        using var agent = _broker.Client();
        // Warm-up: JIT, connection, first fsyncs.
        await AgentLoopAsync(agent, "warm", Task.Delay(TimeSpan.FromSeconds(1)));

        // Two attempts at most: one noisy neighbour on a shared 2-core machine should not decide the test, while a broker
        // that makes the agent wait behind the flood fails both.
        (double Baseline, double Flood) p99 = default;
        for (var attempt = 1; attempt <= 2; attempt++)
        {
            // Baseline under the same client concurrency and number of calls on the same listener, answered without attestation
            // or audit: a method the service does not have (UNIMPLEMENTED). What remains between the two is the flood's own cost.
            var baselineLoad = LoadAsync(FloodCalls, async (channel, _) =>
            {
                try
                {
                    await channel.CreateCallInvoker().AsyncUnaryCall(NoSuchMethod, null, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(30)), new Empty());
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.Unimplemented)
                {
                    // The expected answer.
                }
            });
            var baseline = await AgentLoopAsync(agent, $"base{attempt}", baselineLoad);

            var auditBefore = AuditLines().Count;
            var auditBytesBefore = new FileInfo(AuditPath).Length;
            var clock = Stopwatch.StartNew();
            var outcomes = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
            var flood = LoadAsync(FloodCalls, async (channel, i) =>
            {
                var client = new CredentialBroker.CredentialBrokerClient(channel);
                var headers = new Metadata();
                if (i % 2 == 1)
                {
                    headers.Add("authorization", $"Bearer garbage-{i}");
                }

                try
                {
                    await client.RequestCredentialAsync(E2E.Tickets($"flood-{i}"), headers, DateTime.UtcNow.AddSeconds(30));
                    outcomes.AddOrUpdate("OK", 1, (_, n) => n + 1);
                }
                catch (RpcException e)
                {
                    outcomes.AddOrUpdate($"{e.StatusCode} {e.Trailers.GetValue(WireErrors.ReasonTrailer)}", 1, (_, n) => n + 1);
                }
            });
            var during = await AgentLoopAsync(agent, $"flood{attempt}", flood);
            var floodSeconds = clock.Elapsed.TotalSeconds;

            // Let the last summary interval close, then look at what the flood cost the audit file.
            await Task.Delay(TimeSpan.FromSeconds(SummarySeconds + 1));
            var added = AuditLines().Skip(auditBefore).ToList();
            var floodRecords = added.Where(l => Type(l).StartsWith("attestation.", StringComparison.Ordinal)).ToList();
            var floodBytes = floodRecords.Sum(l => (long)l.Length + 1);
            var intervals = Math.Ceiling(floodSeconds / SummarySeconds) + 2;
            TestContext.Out.WriteLine($"attempt {attempt}: flood {FloodCalls} calls in {floodSeconds:F1} s: {string.Join(", ", outcomes.Select(p => $"{p.Key}={p.Value}"))}");
            TestContext.Out.WriteLine($"attempt {attempt}: audit +{new FileInfo(AuditPath).Length - auditBytesBefore} bytes ({added.Count} records; "
                + $"{floodRecords.Count} attestation records = {floodBytes} bytes; bound {intervals * BytesPerInterval})");
            TestContext.Out.WriteLine($"attempt {attempt}: agent p50/p99 baseline {baseline.P50:F1}/{baseline.P99:F1} ms ({baseline.Count} calls), "
                + $"flood {during.P50:F1}/{during.P99:F1} ms ({during.Count} calls)");

            Assert.That(outcomes.Values.Sum(), Is.EqualTo(FloodCalls), "every flood call was answered");
            Assert.That(outcomes.Keys, Is.All.Matches<string>(k => k.StartsWith("Unauthenticated ", StringComparison.Ordinal) || k == "ResourceExhausted peer.rate_limited"),
                "no flood call got anything but a refusal");
            Assert.That(outcomes.Keys.Any(k => k.StartsWith("Unauthenticated ", StringComparison.Ordinal)), Is.True, "part of the flood reached attestation");
            Assert.That(during.Count, Is.GreaterThanOrEqualTo(20), "the agent kept requesting during the flood");
            Assert.That(floodBytes, Is.LessThanOrEqualTo(intervals * BytesPerInterval), "the audit file grows by a bounded amount per interval");
            Assert.That(floodRecords.Select(Type), Is.All.EqualTo("attestation.failures"), "failures are summarised, not written one by one");
            Assert.That(floodRecords.Count, Is.LessThanOrEqualTo(intervals * (64 + 1)), "at most FailureSummaryMaxKeys + 1 summaries per interval");

            p99 = (baseline.P99, during.P99);
            if (during.P99 <= 2 * baseline.P99)
            {
                break;
            }
        }

        Assert.That(p99.Flood, Is.LessThanOrEqualTo(2 * p99.Baseline), "the agent's p99 during the flood stays within 2x its baseline");
    }

    [Test]
    public async Task A_summary_names_the_reason_the_peer_and_the_count_without_the_token()
    {
        using var channel = GrpcChannels.For(_broker.GrpcUri, RawGrpcCall.BoundTo("127.0.0.6"));
        var generated = new CredentialBroker.CredentialBrokerClient(channel);
        for (var i = 0; i < 25; i++)
        {
            Assert.ThrowsAsync<RpcException>(() => generated.RequestCredentialAsync(E2E.Tickets("s"), new Metadata { { "authorization", "Bearer not-a-jwt-secret" } }).ResponseAsync);
        }

        Assert.That(await Eventually.TrueAsync(() => Task.FromResult(AuditLines().Any(l => l.Contains("\"actor\":\"127.0.0.6\"", StringComparison.Ordinal))),
            TimeSpan.FromSeconds(10)), Is.True, "a summary for the peer is written within the interval");
        var summary = JsonDocument.Parse(AuditLines().Single(l => l.Contains("\"actor\":\"127.0.0.6\"", StringComparison.Ordinal))).RootElement;
        Assert.That(summary.GetProperty("type").GetString(), Is.EqualTo("attestation.failures"));
        Assert.That(summary.GetProperty("detail").GetString(), Does.StartWith("count=25 "));
        Assert.That(summary.GetProperty("credential_fingerprint").GetString(), Is.EqualTo(JitBroker.Core.Fingerprints.Of("not-a-jwt-secret")));
        Assert.That(File.ReadAllText(AuditPath), Does.Not.Contain("not-a-jwt-secret"));
    }

    [Test]
    public async Task A_peer_over_its_rate_is_refused_before_attestation_with_a_stable_reason()
    {
        await using var broker = await BrokerServerFixture.StartAsync(new Dictionary<string, string?>
        {
            ["JitBroker:Admission:PeerFailuresPerSecond"] = "5",
            ["JitBroker:Admission:PeerBurst"] = "20",
        });
        using var channel = GrpcChannels.For(broker.GrpcUri, RawGrpcCall.BoundTo("127.0.0.7"));
        var generated = new CredentialBroker.CredentialBrokerClient(channel);

        var statuses = await Task.WhenAll(Enumerable.Range(0, 200).Select(async _ =>
        {
            try
            {
                await generated.RequestCredentialAsync(E2E.Tickets("r"));
                return (StatusCode.OK, (string?)null);
            }
            catch (RpcException e)
            {
                return (e.StatusCode, e.Trailers.GetValue(WireErrors.ReasonTrailer));
            }
        }));

        var reachedAttestation = statuses.Count(s => s == (StatusCode.Unauthenticated, "identity.missing"));
        Assert.That(reachedAttestation, Is.InRange(20, 40), "the burst (20) plus what refilled (5/s) reached attestation");
        Assert.That(statuses.Length - reachedAttestation, Is.EqualTo(statuses.Count(s => s == (StatusCode.ResourceExhausted, "peer.rate_limited"))),
            "every other call was refused before attestation, with the stable reason");
        using var agent = broker.Client();
        for (var i = 0; i < 40; i++)
        {
            Assert.That((await agent.RequestCredentialAsync(broker.Svid(), E2E.Tickets($"other-peer-{i}"))).LeaseId, Is.Not.Empty,
                "another address (127.0.0.1) keeps its own bucket, and calls that attest give their token back (40 > burst 20)");
        }
    }

    private static readonly Method<Empty, Empty> NoSuchMethod = new(MethodType.Unary, "jitbroker.v1.CredentialBroker", "NoSuchMethod",
        Marshallers.Create(m => m.ToByteArray(), Empty.Parser.ParseFrom), Marshallers.Create(m => m.ToByteArray(), Empty.Parser.ParseFrom));

    private string AuditPath => Path.Combine(_broker.DataDirectory, "audit.jsonl");

    private List<string> AuditLines()
    {
        using var stream = new FileStream(AuditPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return [.. reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries)];
    }

    private static string Type(string line) => JsonDocument.Parse(line).RootElement.GetProperty("type").GetString() ?? "";

    /// <summary><paramref name="calls"/> calls spread over <see cref="FloodWorkers"/> workers on channels from the flood peers.</summary>
    private Task LoadAsync(int calls, Func<Grpc.Net.Client.GrpcChannel, int, Task> call)
    {
        var channels = FloodPeers.Select(p => GrpcChannels.For(_broker.GrpcUri, RawGrpcCall.BoundTo(p))).ToArray();
        var next = -1;
        var workers = Enumerable.Range(0, FloodWorkers).Select(w => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < calls)
            {
                await call(channels[w % channels.Length], i);
            }
        }));
        return Task.WhenAll(workers).ContinueWith(t =>
        {
            foreach (var channel in channels)
            {
                channel.Dispose();
            }

            t.GetAwaiter().GetResult();
        }, TaskScheduler.Default);
    }

    private readonly record struct Latencies(int Count, double P50, double P99);

    /// <summary>The agent requests credentials one after another (a fresh SVID each) until <paramref name="until"/> completes.</summary>
    private async Task<Latencies> AgentLoopAsync(BrokerClient agent, string label, Task until)
    {
        var agentId = E2E.Agent("flood-survivor");
        var samples = new List<double>();
        var n = 0;
        while (!until.IsCompleted)
        {
            var svid = _broker.Svid(agentId);
            var request = E2E.Tickets($"{label}-{n++}");
            var watch = Stopwatch.StartNew();
            await agent.RequestCredentialAsync(svid, request, TimeSpan.FromSeconds(30));
            samples.Add(watch.Elapsed.TotalMilliseconds);
        }

        await until;
        samples.Sort();
        return samples.Count == 0 ? new(0, 0, 0) : new(samples.Count, samples[samples.Count / 2], samples[(int)Math.Ceiling(samples.Count * 0.99) - 1]);
    }
}
