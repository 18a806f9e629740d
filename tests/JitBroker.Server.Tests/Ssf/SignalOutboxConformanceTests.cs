using JitBroker.Redis;
using JitBroker.Redis.Tests.Harness;
using JitBroker.Server.Ssf;
using NUnit.Framework;

namespace JitBroker.Server.Tests.Ssf;

/// <summary>One suite for every <see cref="ISignalOutbox"/> (STYLE 19): what delivery relies on — claims hide items, lapsed claims come back, nothing is lost or duplicated, retention trims only the old.</summary>
public abstract class SignalOutboxConformanceTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 3, 8, 0, 0, TimeSpan.Zero);

    protected ISignalOutbox Outbox { get; set; } = null!;

    protected abstract Task<ISignalOutbox> CreateAsync();

    [SetUp]
    public async Task Create() => Outbox = await CreateAsync();

    private static PendingSignal Signal(string stream, string id, DateTimeOffset at) => new()
    {
        Id = id, StreamId = stream, EventType = SignalEventTypes.SessionRevoked, Subject = "lease_" + id, Audience = "https://a.example",
        EventTimestamp = at, EnqueuedAt = at,
    };

    private static SignalStream Stream(string id, string owner = "spiffe://t/tools/a") => new()
    {
        StreamId = id, Owner = owner, Audiences = ["https://a.example"], EndpointUrl = "https://r.example/events",
        EventsRequested = [SignalEventTypes.SessionRevoked], CreatedAt = T0, AuthorizationHeader = "Bearer x",
    };

    [Test]
    public async Task A_stream_round_trips_and_is_deleted_with_its_queue()
    {
        await Outbox.PutStreamAsync(Stream("s1"));
        await Outbox.EnqueueAsync([Signal("s1", "a", T0)]);
        var read = await Outbox.GetStreamAsync("s1");
        Assert.That(read, Is.Not.Null);
        Assert.That(read!.Audiences, Is.EqualTo(new[] { "https://a.example" }));
        Assert.That(read.AuthorizationHeader, Is.EqualTo("Bearer x"));
        Assert.That(read.EventsDelivered, Is.EqualTo(new[] { SignalEventTypes.SessionRevoked }));
        Assert.That((await Outbox.ListStreamsAsync()).Select(s => s.StreamId), Is.EqualTo(new[] { "s1" }));

        Assert.That(await Outbox.DeleteStreamAsync("s1"), Is.True);
        Assert.That(await Outbox.GetStreamAsync("s1"), Is.Null);
        Assert.That((await Outbox.StatsAsync("s1")).Pending, Is.Zero);
        Assert.That(await Outbox.DeleteStreamAsync("s1"), Is.False);
    }

    [Test]
    public async Task A_claim_hides_items_until_it_lapses_and_an_ack_removes_them()
    {
        await Outbox.EnqueueAsync([Signal("s", "a", T0), Signal("s", "b", T0.AddMilliseconds(1)), Signal("s", "c", T0.AddMilliseconds(2))]);
        var first = await Outbox.ClaimAsync("s", 2, T0.AddSeconds(1), TimeSpan.FromSeconds(30));
        Assert.That(first.Select(s => s.Id), Is.EqualTo(new[] { "a", "b" }), "oldest first, at most max");
        Assert.That(first[0].Subject, Is.EqualTo("lease_a"));

        var second = await Outbox.ClaimAsync("s", 10, T0.AddSeconds(2), TimeSpan.FromSeconds(30));
        Assert.That(second.Select(s => s.Id), Is.EqualTo(new[] { "c" }), "claimed items are hidden from another claimer");

        await Outbox.AcknowledgeAsync("s", ["a"], T0.AddSeconds(3));
        var lapsed = await Outbox.ClaimAsync("s", 10, T0.AddSeconds(40), TimeSpan.FromSeconds(30));
        Assert.That(lapsed.Select(s => s.Id), Is.EquivalentTo(new[] { "b", "c" }), "a lapsed claim comes back (at-least-once); an acknowledged item never does");
        var stats = await Outbox.StatsAsync("s");
        Assert.That(stats.Pending, Is.EqualTo(2));
        Assert.That(stats.LastDeliveredAt, Is.EqualTo(T0.AddSeconds(3)));
    }

    [Test]
    public async Task Retry_later_puts_items_back_at_their_due_time_with_the_last_error()
    {
        await Outbox.EnqueueAsync([Signal("s", "a", T0)]);
        await Outbox.ClaimAsync("s", 10, T0, TimeSpan.FromSeconds(30));
        await Outbox.RetryLaterAsync("s", ["a"], T0.AddSeconds(5), "HTTP 503", T0);

        Assert.That(await Outbox.ClaimAsync("s", 10, T0.AddSeconds(4), TimeSpan.FromSeconds(30)), Is.Empty);
        Assert.That((await Outbox.ClaimAsync("s", 10, T0.AddSeconds(5), TimeSpan.FromSeconds(30))).Select(s => s.Id), Is.EqualTo(new[] { "a" }));
        var stats = await Outbox.StatsAsync("s");
        Assert.That(stats.LastError, Is.EqualTo("HTTP 503"));
        Assert.That(stats.LastErrorAt, Is.EqualTo(T0));
    }

    [Test]
    public async Task Enqueueing_the_same_id_twice_keeps_one_and_streams_are_apart()
    {
        await Outbox.EnqueueAsync([Signal("s", "a", T0), Signal("t", "a2", T0)]);
        await Outbox.EnqueueAsync([Signal("s", "a", T0)]);
        Assert.That((await Outbox.StatsAsync("s")).Pending, Is.EqualTo(1));
        Assert.That((await Outbox.ClaimAsync("t", 10, T0, TimeSpan.FromSeconds(1))).Select(s => s.Id), Is.EqualTo(new[] { "a2" }));
    }

    [Test]
    public async Task Trim_drops_only_items_older_than_retention()
    {
        await Outbox.EnqueueAsync([Signal("s", "old", T0), Signal("s", "new", T0.AddMinutes(10))]);
        Assert.That(await Outbox.TrimAsync("s", T0.AddMinutes(5)), Is.EqualTo(1));
        var stats = await Outbox.StatsAsync("s");
        Assert.That(stats.Pending, Is.EqualTo(1));
        Assert.That(stats.OldestEnqueuedAt, Is.EqualTo(T0.AddMinutes(10)));
        Assert.That((await Outbox.ClaimAsync("s", 10, T0.AddMinutes(11), TimeSpan.FromSeconds(1))).Select(s => s.Id), Is.EqualTo(new[] { "new" }));
    }
}

public sealed class InMemorySignalOutboxTests : SignalOutboxConformanceTests
{
    protected override Task<ISignalOutbox> CreateAsync() => Task.FromResult<ISignalOutbox>(new InMemorySignalOutbox());
}

[NonParallelizable]
public sealed class RedisSignalOutboxTests : SignalOutboxConformanceTests
{
    private RedisServerProcess _server = null!;
    private RedisConnection _redis = null!;
    private int _n;

    /// <summary>The broker's least-privilege ACL of docs/redis.md, verbatim: the outbox must work as that user.</summary>
    private const string BrokerAcl = "on >s3cret resetchannels ~jitbroker:[^a]* ~jitbroker:agent:* ~jitbroker:agents ~jitbroker:approval* -@all +@connection -@admin " +
        "-@dangerous +role +info +cluster|nodes +cluster|slots +evalsha +eval +hgetall +hget +hmget +hset +hdel +hincrby +zadd +zrem +zcard +zrange " +
        "+zrangebyscore +zrangebylex +sadd +srem +smembers +sscan +scard +del +exists +pexpire +incr +set +get";

    [OneTimeSetUp]
    public async Task StartRedis()
    {
        _server = await RedisServerProcess.StartServerAsync();
        await using (var admin = new RedisConnection(new RedisOptions { Endpoint = _server.Endpoint, AllowAdminCommands = true }))
        {
            await admin.ExecuteAsync("ACL", ["SETUSER", "jitbroker", "reset", .. BrokerAcl.Split(' ')]);
        }

        _redis = new RedisConnection(new RedisOptions { Endpoint = _server.Endpoint, User = "jitbroker", Password = "s3cret" });
    }

    [OneTimeTearDown]
    public async Task StopRedis()
    {
        await _redis.DisposeAsync();
        await _server.DisposeAsync();
    }

    // A fresh key prefix per test: the same server, no state shared between tests.
    protected override Task<ISignalOutbox> CreateAsync() => Task.FromResult<ISignalOutbox>(new RedisSignalOutbox(_redis, $"jitbroker:t{Interlocked.Increment(ref _n)}:"));
}
