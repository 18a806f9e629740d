using JitBroker.Core;
using JitBroker.Leases.Redis;
using JitBroker.Leases.Tests.Stores;
using JitBroker.Redis;
using Microsoft.Extensions.Time.Testing;
using NUnit.Framework;

namespace JitBroker.Leases.Tests.Redis;

[TestFixture]
[CancelAfter(60_000)]
public sealed class RedisReplayCacheConformanceTests : ReplayCacheConformanceTests
{
    private RedisConnection _redis = null!;
    private string _prefix = null!;

    protected override async Task<IReplayCache> CreateCacheAsync(FakeTimeProvider clock)
    {
        _redis = await SharedRedis.ConnectionAsync();
        _prefix = SharedRedis.NewPrefix();
        return new RedisReplayCache(_redis, _prefix, clock);
    }

    [Test]
    public async Task Redis_forgets_an_entry_when_its_keep_until_is_reached()
    {
        await Cache.CheckAndRecordAsync("iss|ttl", "a", T0 + TimeSpan.FromMinutes(5));

        var ttl = (await (await SharedRedis.AdminAsync()).ExecuteAsync("PTTL", [$"{_prefix}replay:{{iss|ttl}}"])).AsInt64();

        Assert.That(ttl, Is.InRange(TimeSpan.FromMinutes(5).TotalMilliseconds - 2_000, TimeSpan.FromMinutes(5).TotalMilliseconds));
    }

    /// <summary>The key is written as UTF-8 bytes built in place: it must be exactly the documented key text, whatever the replay key holds.</summary>
    [TestCase("iss|jti-1")]
    [TestCase("spiffe://prod.example.org|jti-ä-€-😀")]
    [TestCase("x")]
    public async Task The_stored_key_is_the_documented_key_text(string replayKey)
    {
        await Cache.CheckAndRecordAsync(replayKey, "a", T0 + TimeSpan.FromMinutes(5));

        var exists = (await (await SharedRedis.AdminAsync()).ExecuteAsync("EXISTS", [$"{_prefix}replay:{{{replayKey}}}"])).AsInt64();

        Assert.That(exists, Is.EqualTo(1));
        Assert.That(((RedisReplayCache)Cache).KeyBytes(replayKey).ToString(), Is.EqualTo(((RedisReplayCache)Cache).Key(replayKey)));
    }

    [Test]
    public void A_long_replay_key_is_stored_by_its_hash_as_before()
    {
        var replayKey = new string('k', RedisReplayCache.MaxRawKeyLength + 1);
        var cache = (RedisReplayCache)Cache;

        Assert.That(cache.KeyBytes(replayKey).ToString(), Is.EqualTo(cache.Key(replayKey)));
        Assert.That(cache.Key(replayKey), Does.Contain("replay:{sha256:"));
    }

    [Test]
    public async Task An_unreachable_redis_is_replay_cache_unavailable()
    {
        await using var dead = new RedisConnection(new RedisOptions { Endpoint = $"127.0.0.1:{JitBroker.Redis.Tests.Harness.RedisServerProcess.FreePort()}" });
        var cache = new RedisReplayCache(dead, _prefix, Clock);

        var error = Assert.ThrowsAsync<BrokerException>(async () => await cache.CheckAndRecordAsync("k", "b", T0 + TimeSpan.FromMinutes(1)));

        Assert.That((error!.Failure, error.Reason), Is.EqualTo((BrokerFailure.Unavailable, Reasons.Store.ReplayCacheUnavailable)));
    }
}

[TestFixture]
[CancelAfter(60_000)]
public sealed class RedisKillSwitchConformanceTests : KillSwitchConformanceTests
{
    private RedisConnection _redis = null!;
    private string _prefix = null!;

    protected override async Task<IKillSwitch> CreateKillSwitchAsync()
    {
        _redis = await SharedRedis.ConnectionAsync();
        _prefix = SharedRedis.NewPrefix();
        return new RedisKillSwitch(_redis, _prefix);
    }

    [Test]
    public async Task A_block_set_through_one_replica_applies_on_another_at_its_next_request()
    {
        var server = await SharedRedis.ServerAsync();
        await using var otherConnection = new RedisConnection(SharedRedis.BrokerOptions(server));
        var otherReplica = new RedisKillSwitch(otherConnection, _prefix);
        Assert.That(await otherReplica.FindBlockAsync("spiffe://td/agents/a", T0), Is.Null); // warms its cache

        await KillSwitch.BlockAsync(Block("spiffe://td/agents/*"));
        Assert.That(await otherReplica.FindBlockAsync("spiffe://td/agents/a", T0), Is.Not.Null);

        await KillSwitch.UnblockAsync("spiffe://td/agents/*");
        Assert.That(await otherReplica.FindBlockAsync("spiffe://td/agents/a", T0), Is.Null);
    }

    [Test]
    public async Task A_lookup_with_an_unchanged_list_costs_one_get()
    {
        await KillSwitch.BlockAsync(Block("spiffe://td/agents/*"));
        await KillSwitch.FindBlockAsync("spiffe://td/agents/a", T0); // loads the list
        var before = await CallsAsync();

        for (var i = 0; i < 10; i++)
        {
            await KillSwitch.FindBlockAsync("spiffe://td/agents/a", T0);
        }

        var after = await CallsAsync();
        Assert.That((after.Get - before.Get, after.Eval - before.Eval), Is.EqualTo((10, 0)));
    }

    private async Task<(long Get, long Eval)> CallsAsync()
    {
        var stats = (await (await SharedRedis.AdminAsync()).ExecuteAsync("INFO", ["commandstats"])).AsString()!;
        static long Calls(string stats, string command)
        {
            var line = stats.Split("\r\n").FirstOrDefault(l => l.StartsWith($"cmdstat_{command}:", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line.Split("calls=")[1].Split(',')[0], System.Globalization.CultureInfo.InvariantCulture);
        }

        return (Calls(stats, "get"), Calls(stats, "evalsha") + Calls(stats, "eval"));
    }
}

[TestFixture]
[CancelAfter(60_000)]
public sealed class RedisApprovalStoreConformanceTests : ApprovalStoreConformanceTests
{
    private RedisConnection _redis = null!;
    private string _prefix = null!;

    protected override async Task<IApprovalStore> CreateStoreAsync(FakeTimeProvider clock)
    {
        _redis = await SharedRedis.ConnectionAsync();
        _prefix = SharedRedis.NewPrefix();
        return new RedisApprovalStore(_redis, _prefix, clock);
    }

    [Test]
    public async Task An_approval_record_expires_a_retention_after_the_approval_does()
    {
        await Store.PutAsync(NewApproval("appr-ttl", expiresIn: TimeSpan.FromMinutes(15)));

        var ttl = (await (await SharedRedis.AdminAsync()).ExecuteAsync("PTTL", [$"{_prefix}approval:{{appr-ttl}}"])).AsInt64();

        var expected = (TimeSpan.FromMinutes(15) + RedisApprovalStore.Retention).TotalMilliseconds;
        Assert.That(ttl, Is.InRange(expected - 2_000, expected));
    }
}
