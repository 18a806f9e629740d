using System.Diagnostics;
using System.Globalization;
using JitBroker.Redis.Tests.Harness;
using NUnit.Framework;
using StackExchange.Redis;

namespace JitBroker.Redis.Tests;

/// <summary>
/// <see cref="RedisOptions.MinReplicasToAck"/>: durable writes (<see cref="IRedisConnection.EvalDurableAsync"/>) are
/// followed by <c>WAIT</c>; too few acknowledgements fail with cause <c>redis.noreplicas</c>, and for a moment after
/// that durable writes fail without being sent. A real primary and replica on loopback.
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(90_000)]
public sealed class RedisReplicaAckTests
{
    private static readonly LuaScript Write = new("""
        redis.call('HSET', KEYS[1], 'v', ARGV[1])
        redis.call('ZADD', KEYS[2], ARGV[2], KEYS[1])
        return 7
        """);

    /// <summary>Generous: on a busy 2-core box a healthy replica can take a few hundred ms to acknowledge.</summary>
    private static readonly TimeSpan AckTimeout = TimeSpan.FromMilliseconds(1500);

    private static RedisOptions Options(string endpoint, int minReplicasToAck) => new()
    {
        Endpoint = endpoint,
        CommandTimeout = TimeSpan.FromSeconds(5),
        ConnectTimeout = TimeSpan.FromSeconds(2),
        MinReplicasToAck = minReplicasToAck,
        ReplicaAckTimeout = AckTimeout,
    };

    private static async Task<RedisServerProcess> ReplicaOfAsync(RedisServerProcess primary)
    {
        var replica = await RedisServerProcess.StartServerAsync("--replicaof", "127.0.0.1", primary.Port.ToString(CultureInfo.InvariantCulture));
        var clock = Stopwatch.StartNew();
        while (!(await replica.RawReplyAsync("INFO replication")).Contains("master_link_status:up", StringComparison.Ordinal))
        {
            Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(20)), "replica in sync");
            await Task.Delay(50);
        }

        return replica;
    }

    [Test]
    public async Task A_durable_write_returns_its_result_once_the_replica_has_it()
    {
        await using var primary = await RedisServerProcess.StartServerAsync();
        await using var replica = await ReplicaOfAsync(primary);
        await using var redis = new RedisConnection(Options(primary.Endpoint, 1));

        var result = await redis.EvalDurableAsync(Write, ["ack:lease", "ack:due"], ["x", 1]);

        Assert.That(result.AsInt64(), Is.EqualTo(7));
        // Read on the replica right away, without waiting: WAIT returned only after it had the write.
        Assert.That(await replica.RawReplyAsync("HGET ack:lease v"), Is.EqualTo("$1\r\nx\r\n"));
    }

    [Test]
    public async Task Concurrent_durable_writes_share_their_wait_and_a_lost_script_cache_is_recovered()
    {
        await using var primary = await RedisServerProcess.StartServerAsync();
        await using var replica = await ReplicaOfAsync(primary);
        await using var redis = new RedisConnection(Options(primary.Endpoint, 1));
        await redis.EvalDurableAsync(Write, ["gc:warm", "gc:due"], ["x", 1]);
        Assert.That(await primary.RawCommandAsync("SCRIPT FLUSH"), Is.EqualTo("+OK"));

        var results = await Task.WhenAll(Enumerable.Range(0, 400).Select(i => redis.EvalDurableAsync(Write, [$"gc:{i}", "gc:due"], ["x", i]).AsTask()));

        var stats = await primary.RawReplyAsync("INFO commandstats");
        var waits = long.Parse(stats.Split("\r\n").Single(l => l.StartsWith("cmdstat_wait:", StringComparison.Ordinal)).Split(',')[0]["cmdstat_wait:calls=".Length..], CultureInfo.InvariantCulture);
        TestContext.Progress.WriteLine($"[group-commit] 401 durable writes, {waits} WAITs");
        Assert.Multiple(async () =>
        {
            Assert.That(results.Select(r => r.AsInt64()), Has.All.EqualTo(7), "every write ran (re-sent as EVAL after NOSCRIPT)");
            Assert.That(waits, Is.LessThan(200), "WAITs are shared by the writes that gathered while one was in flight");
            Assert.That((await primary.RawReplyAsync("INFO errorstats")), Does.Contain("errorstat_NOSCRIPT"), "the flush was noticed");
            Assert.That(await replica.RawReplyAsync("ZCARD gc:due"), Is.EqualTo(":401\r\n"), "and every acknowledged write is on the replica");
        });
    }

    [Test]
    public async Task Without_the_replica_a_durable_write_fails_as_not_replicated_then_fails_fast_unsent_until_the_replica_is_back()
    {
        await using var primary = await RedisServerProcess.StartServerAsync();
        await using var replica = await ReplicaOfAsync(primary);
        await using var redis = new RedisConnection(Options(primary.Endpoint, 1));
        await redis.EvalDurableAsync(Write, ["ack:warm", "ack:due"], ["x", 1]);
        await replica.KillAsync();

        var clock = Stopwatch.StartNew();
        var first = Assert.ThrowsAsync<RedisNotReplicatedException>(() => redis.EvalDurableAsync(Write, ["ack:first", "ack:due"], ["x", 1]).AsTask());
        var firstTook = clock.Elapsed;
        clock.Restart();
        var second = Assert.ThrowsAsync<RedisNotReplicatedException>(() => redis.EvalDurableAsync(Write, ["ack:second", "ack:due"], ["x", 1]).AsTask());
        var secondTook = clock.Elapsed;

        Assert.Multiple(async () =>
        {
            Assert.That(RedisFailures.CauseOf(first!), Is.EqualTo(RedisFailures.NotReplicated));
            Assert.That(RedisFailures.IsRedisFailure(first!), Is.True, "the stores turn it into UNAVAILABLE like any Redis failure");
            Assert.That(firstTook, Is.GreaterThanOrEqualTo(AckTimeout - TimeSpan.FromMilliseconds(20)).And.LessThan(AckTimeout + TimeSpan.FromSeconds(1)), "waited the ack timeout");
            Assert.That(secondTook, Is.LessThan(TimeSpan.FromMilliseconds(100)), "then fails at once");
            Assert.That(RedisFailures.CauseOf(second!), Is.EqualTo(RedisFailures.NotReplicated));
            Assert.That((await redis.ExecuteAsync("EXISTS", ["ack:first"])).AsInt64(), Is.EqualTo(1), "the first write ran on the primary (unacknowledged)");
            Assert.That((await redis.ExecuteAsync("EXISTS", ["ack:second"])).AsInt64(), Is.Zero, "the second was not sent at all");
        });

        await replica.RestartAsync();
        clock.Restart();
        while (true)
        {
            try
            {
                Assert.That((await redis.EvalDurableAsync(Write, ["ack:after", "ack:due"], ["x", 1])).AsInt64(), Is.EqualTo(7));
                break;
            }
            catch (RedisNotReplicatedException) when (clock.Elapsed < TimeSpan.FromSeconds(20))
            {
                await Task.Delay(100);
            }
        }
    }

    [Test]
    public async Task The_servers_own_min_replicas_refusal_is_cause_noreplicas_and_writes_nothing()
    {
        await using var primary = await RedisServerProcess.StartServerAsync("--min-replicas-to-write", "1");
        await using var redis = new RedisConnection(Options(primary.Endpoint, 0));

        var refused = Assert.ThrowsAsync<RedisServerException>(() => redis.EvalAsync(Write, ["nr:lease", "nr:due"], ["x", 1]).AsTask());

        Assert.That(RedisFailures.CauseOf(refused!), Is.EqualTo(RedisFailures.NotReplicated));
        Assert.That((await redis.ExecuteAsync("EXISTS", ["nr:lease"])).AsInt64(), Is.Zero);
    }

    /// <summary>
    /// What <c>WAIT</c> costs: 32 concurrent durable writes (a two-command script, like a lease put) on one
    /// connection, with and without one replica's acknowledgement, alternating. Prints ops/s and latency percentiles.
    /// </summary>
    [Test]
    [Explicit("Measurement for docs/redis.md and docs/benchmarks.md; asserts nothing.")]
    public async Task Measure_the_cost_of_waiting_for_a_replica()
    {
        await using var primary = await RedisServerProcess.StartServerAsync();
        await using var replica = await ReplicaOfAsync(primary);
        foreach (var round in Enumerable.Range(0, 2))
        {
            foreach (var ack in new[] { 0, 1 })
            {
                await using var redis = new RedisConnection(Options(primary.Endpoint, ack));
                await redis.EvalDurableAsync(Write, ["bench:warm", "bench:due"], ["x", 1]);
                var latencies = new List<double>[32];
                var stop = Stopwatch.StartNew();
                await Task.WhenAll(Enumerable.Range(0, 32).Select(async w =>
                {
                    latencies[w] = [];
                    var n = 0;
                    while (stop.Elapsed < TimeSpan.FromSeconds(4))
                    {
                        var one = Stopwatch.StartNew();
                        await redis.EvalDurableAsync(Write, [$"bench:{w}:{n++}", "bench:due"], ["x", n]);
                        latencies[w].Add(one.Elapsed.TotalMilliseconds);
                    }
                }));
                var all = latencies.SelectMany(l => l).Order().ToList();
                TestContext.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"[wait-cost] round {round} ack {ack}: {all.Count / stop.Elapsed.TotalSeconds:0} writes/s, p50 {all[all.Count / 2]:0.00} ms, p99 {all[(int)(all.Count * 0.99)]:0.00} ms"));
            }
        }
    }
}
