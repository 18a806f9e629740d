using System.Diagnostics;
using JitBroker.Redis.Tests.Harness;
using NUnit.Framework;
using StackExchange.Redis;

namespace JitBroker.Redis.Tests;

/// <summary>Master discovery through redis-sentinel, and following a failover: 1 master, 1 replica, 1 sentinel (quorum 1).</summary>
[TestFixture]
[CancelAfter(90_000)]
public sealed class RedisSentinelTests
{
    private const string MasterName = "mymaster";
    private RedisServerProcess _master = null!;
    private RedisServerProcess _replica = null!;
    private RedisServerProcess _sentinel = null!;

    [OneTimeSetUp]
    public async Task StartTopology()
    {
        _master = await RedisServerProcess.StartServerAsync();
        _replica = await RedisServerProcess.StartServerAsync("--replicaof", "127.0.0.1", _master.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        _sentinel = await RedisServerProcess.StartSentinelAsync(_master.Port, MasterName);
        await WaitUntilAsync(ReplicaLinkUpAsync, "replica in sync");
        await WaitUntilAsync(async () => await SentinelKnowsReplicaAsync(), "sentinel sees the replica");
    }

    [OneTimeTearDown]
    public async Task StopTopology()
    {
        await _sentinel.DisposeAsync();
        await _replica.DisposeAsync();
        await _master.DisposeAsync();
    }

    private RedisOptions Options() => new()
    {
        SentinelEndpoints = [$"127.0.0.1:{RedisServerProcess.FreePort()}", _sentinel.Endpoint], // the first sentinel is down
        SentinelMasterName = MasterName,
        ConnectTimeout = TimeSpan.FromSeconds(2),
        CommandTimeout = TimeSpan.FromSeconds(2),
        ReconnectBaseDelay = TimeSpan.FromMilliseconds(50),
        ReconnectMaxDelay = TimeSpan.FromMilliseconds(300),
    };

    [Test]
    [Order(1)]
    public async Task The_master_is_discovered_through_sentinel_skipping_a_dead_sentinel()
    {
        await using var redis = new RedisConnection(Options());

        await redis.ExecuteAsync("SET", ["discovered", "1"]);

        Assert.That(redis.CurrentEndpoint?.Port, Is.EqualTo(_master.Port));
    }

    [Test]
    [Order(2)]
    public async Task After_a_failover_the_client_follows_the_new_master()
    {
        await using var redis = new RedisConnection(Options());
        await redis.ExecuteAsync("SET", ["before-failover", "kept"]);
        await redis.ExecuteAsync("WAIT", [1, 2000]); // replicated before we fail over
        Assert.That(redis.CurrentEndpoint?.Port, Is.EqualTo(_master.Port));

        Assert.That(await _sentinel.RawCommandAsync($"SENTINEL FAILOVER {MasterName}"), Is.EqualTo("+OK"));

        // Writes fail (connection killed, or READONLY) until the client lands on the promoted replica.
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await redis.ExecuteAsync("SET", ["after-failover", "1"]);
                if (redis.CurrentEndpoint?.Port == _replica.Port)
                {
                    break;
                }
            }
            catch (RedisException) when (clock.Elapsed < TimeSpan.FromSeconds(30))
            {
            }

            Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(30)), "the client did not follow the failover");
            await Task.Delay(100);
        }

        Assert.That((await redis.ExecuteAsync("GET", ["before-failover"])).AsString(), Is.EqualTo("kept"));
        var role = (await redis.ExecuteAsync("ROLE", [])).AsArray()[0].AsString();
        Assert.That(role, Is.EqualTo("master"));
    }

    /// <summary>
    /// The case the library alone does not cover: the sentinels name a new primary, but the client never hears of it
    /// (no <c>+switch-master</c> reaches it, its connection to the demoted primary is not cut) and gets <c>READONLY</c>
    /// on every write. The adapter answers each of those with cause <c>redis.readonly</c> and rebuilds its client,
    /// asking the sentinels again — so writes reach the new primary within seconds, not at the library's next
    /// periodic configuration check (60 s). Made here by hand: the roles are swapped with REPLICAOF, and the
    /// sentinel is told about the new primary with SENTINEL REMOVE/MONITOR (which publishes no <c>+switch-master</c>).
    /// </summary>
    [Test]
    [Order(3)]
    public async Task A_readonly_primary_makes_the_client_ask_the_sentinels_again()
    {
        // After test 2 the replica process is the primary and the master process its replica; put the roles back
        // under the sentinel's nose first, so this test starts from a client connected to _master.
        await using var redis = new RedisConnection(Options());
        await redis.ExecuteAsync("SET", ["readonly-probe", "0"]);
        var primary = redis.CurrentEndpoint?.Port == _master.Port ? _master : _replica;
        var other = primary == _master ? _replica : _master;

        Assert.That(await other.RawCommandAsync("REPLICAOF NO ONE"), Is.EqualTo("+OK"));
        Assert.That(await primary.RawCommandAsync($"REPLICAOF 127.0.0.1 {other.Port}"), Is.EqualTo("+OK"));
        Assert.That(await _sentinel.RawCommandAsync($"SENTINEL REMOVE {MasterName}"), Is.EqualTo("+OK"));
        Assert.That(await _sentinel.RawCommandAsync($"SENTINEL MONITOR {MasterName} 127.0.0.1 {other.Port} 1"), Is.EqualTo("+OK"));

        var causes = new List<string>();
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await redis.ExecuteAsync("SET", ["readonly-probe", "1"]);
                if (redis.CurrentEndpoint?.Port == other.Port)
                {
                    break;
                }
            }
            catch (RedisException ex) when (clock.Elapsed < TimeSpan.FromSeconds(20))
            {
                causes.Add(RedisFailures.CauseOf(ex));
            }

            Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(20)), $"the client stayed on the demoted primary (causes seen: {string.Join(", ", causes.Distinct())})");
            await Task.Delay(100);
        }

        TestContext.Progress.WriteLine($"[readonly] on the new primary after {clock.Elapsed.TotalMilliseconds:0} ms; causes seen: {string.Join(", ", causes.GroupBy(c => c).Select(g => $"{g.Key}×{g.Count()}"))}");
        Assert.That(causes, Does.Contain(RedisFailures.ReadOnly), "the demoted primary answered READONLY");
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)), "well before the library's own 60 s configuration check");
    }

    private async Task<bool> ReplicaLinkUpAsync()
    {
        return (await _replica.RawReplyAsync("INFO replication")).Contains("master_link_status:up", StringComparison.Ordinal);
    }

    private async Task<bool> SentinelKnowsReplicaAsync()
    {
        return await _sentinel.RawCommandAsync($"SENTINEL REPLICAS {MasterName}") == "*1";
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(20)), $"timed out waiting for: {what}");
            await Task.Delay(100);
        }
    }
}
