using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using JitBroker.Cli;
using JitBroker.Ha.Tests.Harness;
using JitBroker.Redis.Tests.Harness;
using NUnit.Framework;

namespace JitBroker.Ha.Tests;

/// <summary>
/// What <c>Redis:MinReplicasToAck = 1</c> costs a broker process: RequestCredential throughput and latency at
/// concurrency 32, with and without the replica's acknowledgement, on one primary + one replica, alternating runs
/// (the machine is shared, so neighbours' load shifts between runs). A measurement for docs/benchmarks.md.
/// </summary>
[TestFixture]
[NonParallelizable]
[Explicit("Measurement for docs/benchmarks.md; asserts only that requests succeeded.")]
[CancelAfter(600_000)]
public sealed class ReplicaAckCostTests
{
    private const int Concurrency = 32;
    private static readonly TimeSpan Warmup = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(10);

    [Test]
    public async Task Measure_request_credential_with_and_without_replica_acknowledgement(CancellationToken cancellationToken)
    {
        await using var primary = await RedisServerProcess.StartServerAsync();
        await using var replica = await RedisServerProcess.StartServerAsync("--replicaof", "127.0.0.1", primary.Port.ToString(CultureInfo.InvariantCulture));
        await using var fleet = BrokerFleet.Create();
        var brokers = new Dictionary<int, BrokerProcess>();
        foreach (var ack in new[] { 0, 1 })
        {
            brokers[ack] = fleet.Start($"ack{ack}", primary.Endpoint, new Dictionary<string, string>
            {
                ["Redis:MinReplicasToAck"] = ack.ToString(CultureInfo.InvariantCulture),
                ["Redis:ReplicaAckTimeout"] = "00:00:00.500",
            });
            await brokers[ack].WaitReadyAsync(TimeSpan.FromSeconds(60), cancellationToken);
        }

        // SVIDs are minted up front: minting one costs the load generator an ECDSA signature.
        var svids = new Queue<string>(Enumerable.Range(0, 200_000).Select(_ => fleet.Svid()));
        foreach (var round in Enumerable.Range(0, 2))
        {
            foreach (var ack in new[] { 0, 1 })
            {
                var (rate, p50, p99, errors) = await RunAsync(fleet, brokers[ack], svids, cancellationToken);
                TestContext.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"[ack-cost] round {round} ack {ack}: {rate:0} req/s, p50 {p50:0.00} ms, p99 {p99:0.00} ms, errors {errors}"));
                Assert.That(errors, Is.Zero);
            }
        }
    }

    private static async Task<(double Rate, double P50, double P99, int Errors)> RunAsync(BrokerFleet fleet, BrokerProcess broker, Queue<string> svids, CancellationToken cancellationToken)
    {
        using var client = new BrokerClient(broker.GrpcUri);
        var latencies = new List<double>[Concurrency];
        var errors = 0;
        var clock = Stopwatch.StartNew();
        var count = 0L;
        await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(w => Task.Run(async () =>
        {
            latencies[w] = [];
            while (clock.Elapsed < Warmup + Window && !cancellationToken.IsCancellationRequested)
            {
                string? svid;
                lock (svids)
                {
                    svids.TryDequeue(out svid);
                }

                svid ??= fleet.Svid();

                var request = BrokerClient.NewRequest($"cost-{Guid.NewGuid():N}", "tickets.read", BrokerFleet.TicketsAudience, ["zendesk"], ["tickets/1"], ttl: TimeSpan.FromMinutes(5));
                var one = Stopwatch.StartNew();
                try
                {
                    await client.RequestCredentialAsync(svid, request, TimeSpan.FromSeconds(10), CancellationToken.None);
                    if (clock.Elapsed >= Warmup)
                    {
                        latencies[w].Add(one.Elapsed.TotalMilliseconds);
                        Interlocked.Increment(ref count);
                    }
                }
                catch (RpcException)
                {
                    Interlocked.Increment(ref errors);
                }
            }
        }, CancellationToken.None)));
        var all = latencies.SelectMany(l => l).Order().ToList();
        return (count / Window.TotalSeconds, LeaseLedger.Percentile(all, 50), LeaseLedger.Percentile(all, 99), errors);
    }
}
