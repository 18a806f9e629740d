using JitBroker.OAuth;
using JitBroker.Redis.Tests.Harness;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Caching.StackExchangeRedis;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Moq;
using NUnit.Framework;

namespace JitBroker.ToolGuard.Tests;

/// <summary>
/// The contract of ToolGuard's <see cref="IDpopReplayStore"/> (RFC 9449 §11.1), run against every implementation: the
/// in-memory cache of one process, and the distributed store over MemoryDistributedCache and over a real redis-server.
/// </summary>
public abstract class DpopReplayStoreConformanceTests
{
    protected FakeTimeProvider Clock { get; } = new(new DateTimeOffset(2026, 12, 3, 10, 0, 0, TimeSpan.Zero));

    protected static IOptions<ToolGuardOptions> Options(int size = 1000) =>
        Microsoft.Extensions.Options.Options.Create(new ToolGuardOptions { Resource = "https://tickets.internal.example", DpopReplayCacheSize = size });

    /// <summary>A store as one replica of the tool would have it; replicas of one test share their backing cache.</summary>
    protected abstract IDpopReplayStore NewReplica();

    private static string Key() => "dpop:jkt:" + Guid.NewGuid().ToString("N");

    [Test]
    public async Task A_proof_is_accepted_once_and_refused_after()
    {
        var store = NewReplica();
        var key = Key();
        Assert.That(await store.TryRecordAsync(key, Clock.GetUtcNow().AddSeconds(90)), Is.True);
        Assert.That(await store.TryRecordAsync(key, Clock.GetUtcNow().AddSeconds(90)), Is.False);
        Assert.That(await store.TryRecordAsync(Key(), Clock.GetUtcNow().AddSeconds(90)), Is.True, "another proof is not affected");
    }

    [Test]
    public async Task A_proof_is_remembered_until_just_before_it_expires()
    {
        var store = NewReplica();
        var key = Key();
        Assert.That(await store.TryRecordAsync(key, Clock.GetUtcNow().AddSeconds(90)), Is.True);
        Clock.Advance(TimeSpan.FromSeconds(89));
        Assert.That(await store.TryRecordAsync(key, Clock.GetUtcNow().AddSeconds(90)), Is.False);
    }

    [Test]
    public async Task Of_many_concurrent_uses_of_one_proof_at_one_replica_exactly_one_passes()
    {
        var store = NewReplica();
        var key = Key();
        var results = await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Task.Run(async () => await store.TryRecordAsync(key, Clock.GetUtcNow().AddSeconds(90)))));
        Assert.That(results.Count(r => r), Is.EqualTo(1));
    }

    [Test]
    public async Task A_very_long_key_is_handled()
    {
        var store = NewReplica();
        var key = "dpop:jkt:" + new string('j', 256) + "\u00e9\u4e2d";
        Assert.That((await store.TryRecordAsync(key, Clock.GetUtcNow().AddSeconds(90)), await store.TryRecordAsync(key, Clock.GetUtcNow().AddSeconds(90))),
            Is.EqualTo((true, false)));
    }
}

public sealed class InMemoryDpopReplayStoreConformanceTests : DpopReplayStoreConformanceTests
{
    protected override IDpopReplayStore NewReplica() => new DpopReplayCache(Options(), Clock);

    [Test]
    public async Task Replicas_do_not_share_it_which_is_why_the_distributed_store_exists()
    {
        var key = "dpop:jkt:shared";
        Assert.That((await NewReplica().TryRecordAsync(key, Clock.GetUtcNow().AddSeconds(90)), await NewReplica().TryRecordAsync(key, Clock.GetUtcNow().AddSeconds(90))),
            Is.EqualTo((true, true)));
    }

    [Test]
    public async Task Full_of_live_proofs_it_refuses_new_ones_and_takes_them_again_once_the_old_have_expired()
    {
        var cache = new DpopReplayCache(Options(size: 3), Clock);
        for (var i = 0; i < 3; i++)
        {
            Assert.That(await cache.TryRecordAsync($"dpop:jkt:{i}", Clock.GetUtcNow().AddSeconds(60)), Is.True);
        }

        Assert.That(await cache.TryRecordAsync("dpop:jkt:a", Clock.GetUtcNow().AddSeconds(60)), Is.False, "forgetting a live proof would let its replay through");
        Assert.That(await cache.TryRecordAsync("dpop:jkt:0", Clock.GetUtcNow().AddSeconds(60)), Is.False, "a replay is refused, and not counted twice");
        Assert.That(cache.Count, Is.EqualTo(3));

        Clock.Advance(TimeSpan.FromSeconds(61));
        Assert.That(await cache.TryRecordAsync("dpop:jkt:a", Clock.GetUtcNow().AddSeconds(60)), Is.True, "the expired entries were swept");
        Assert.That(cache.Count, Is.EqualTo(1));
    }
}

/// <summary>What only the shared store promises: a proof used at one replica is refused at another; an outage refuses.</summary>
public abstract class DistributedDpopReplayStoreConformanceTests : DpopReplayStoreConformanceTests
{
    protected abstract IDistributedCache Shared { get; }

    protected override IDpopReplayStore NewReplica() => Replica(Shared);

    private DistributedDpopReplayStore Replica(IDistributedCache cache) =>
        new(cache, new DpopReplayCache(Options(), Clock), Options(), Clock, NullLogger<DistributedDpopReplayStore>.Instance);

    [Test]
    public async Task A_proof_used_at_one_replica_is_refused_at_every_other()
    {
        var key = "dpop:jkt:" + Guid.NewGuid().ToString("N");
        var replicas = Enumerable.Range(0, 3).Select(_ => NewReplica()).ToList();
        Assert.That(await replicas[0].TryRecordAsync(key, Clock.GetUtcNow().AddSeconds(90)), Is.True);
        Assert.That(await replicas[1].TryRecordAsync(key, Clock.GetUtcNow().AddSeconds(90)), Is.False);
        Assert.That(await replicas[2].TryRecordAsync(key, Clock.GetUtcNow().AddSeconds(90)), Is.False);
    }

    [Test]
    public void A_cache_that_fails_refuses_the_proof_with_a_stable_reason()
    {
        var broken = new Mock<IDistributedCache>();
        broken.Setup(c => c.GetAsync(It.IsAny<string>(), It.IsAny<CancellationToken>())).ThrowsAsync(new InvalidOperationException("connection refused"));
        var error = Assert.ThrowsAsync<OAuthProtocolException>(async () => await Replica(broken.Object).TryRecordAsync("dpop:jkt:x", Clock.GetUtcNow().AddSeconds(90)));
        Assert.That((error!.Error, error.Reason), Is.EqualTo((OAuthErrors.InvalidDpopProof, ToolGuardReasons.DpopReplayCacheUnavailable)));
    }
}

public sealed class MemoryDistributedDpopReplayStoreConformanceTests : DistributedDpopReplayStoreConformanceTests
{
    private readonly MemoryDistributedCache _cache = new(Microsoft.Extensions.Options.Options.Create(new MemoryDistributedCacheOptions()));

    protected override IDistributedCache Shared => _cache;
}

/// <summary>ASP.NET Core's RedisCache against a real redis-server on loopback: what a production tool would use.</summary>
[NonParallelizable]
public sealed class RedisDistributedDpopReplayStoreConformanceTests : DistributedDpopReplayStoreConformanceTests
{
    private RedisServerProcess _server = null!;
    private RedisCache _cache = null!;

    protected override IDistributedCache Shared => _cache;

    [OneTimeSetUp]
    public async Task StartRedisAsync()
    {
        _server = await RedisServerProcess.StartServerAsync();
        _cache = new RedisCache(Microsoft.Extensions.Options.Options.Create(new RedisCacheOptions { Configuration = _server.Endpoint, InstanceName = "toolguard-tests:" }));
    }

    [OneTimeTearDown]
    public async Task StopRedisAsync()
    {
        _cache.Dispose();
        await _server.DisposeAsync();
    }

    [Test]
    public async Task The_entry_expires_in_redis_when_the_proof_could_no_longer_pass()
    {
        var store = NewReplica();
        var key = "dpop:jkt:" + Guid.NewGuid().ToString("N");
        Assert.That(await store.TryRecordAsync(key, Clock.GetUtcNow().AddSeconds(2)), Is.True);
        await Task.Delay(TimeSpan.FromSeconds(3)); // Redis' own clock: its TTL is real time
        Assert.That(await NewReplica().TryRecordAsync(key, Clock.GetUtcNow().AddSeconds(2)), Is.True, "a fresh replica finds nothing: the entry expired");
    }
}
