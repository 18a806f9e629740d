using System.Collections.Concurrent;
using JitBroker.Core;
using Microsoft.Extensions.Time.Testing;
using NUnit.Framework;

namespace JitBroker.Leases.Tests.Stores;

/// <summary>The contract of <see cref="IReplayCache"/>, run against every implementation.</summary>
public abstract class ReplayCacheConformanceTests
{
    protected static readonly DateTimeOffset T0 = new(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);

    protected FakeTimeProvider Clock { get; private set; } = null!;

    protected IReplayCache Cache { get; private set; } = null!;

    /// <summary>A new, empty cache that reads time from <paramref name="clock"/>.</summary>
    protected abstract Task<IReplayCache> CreateCacheAsync(FakeTimeProvider clock);

    [SetUp]
    public async Task CreateCache()
    {
        Clock = new FakeTimeProvider(T0);
        Cache = await CreateCacheAsync(Clock);
    }

    [Test]
    public async Task First_use_then_same_binding_then_a_different_binding()
    {
        var until = T0 + TimeSpan.FromMinutes(5);

        Assert.That(await Cache.CheckAndRecordAsync("iss|jti-1", "request-a", until), Is.EqualTo(ReplayVerdict.FirstUse));
        Assert.That(await Cache.CheckAndRecordAsync("iss|jti-1", "request-a", until), Is.EqualTo(ReplayVerdict.SameBinding));
        Assert.That(await Cache.CheckAndRecordAsync("iss|jti-1", "request-b", until), Is.EqualTo(ReplayVerdict.Replayed));
        Assert.That(await Cache.CheckAndRecordAsync("iss|jti-1", "request-a", until), Is.EqualTo(ReplayVerdict.SameBinding), "the first binding stays recorded");
        Assert.That(await Cache.CheckAndRecordAsync("iss|jti-2", "request-b", until), Is.EqualTo(ReplayVerdict.FirstUse));
    }

    /// <summary>The binding is compared whole and exactly: a prefix, an equal byte count, a non-ASCII or a long binding.</summary>
    [Test]
    public async Task A_binding_is_the_same_only_when_it_is_exactly_the_same()
    {
        var until = T0 + TimeSpan.FromMinutes(5);
        var longBinding = new string('b', 300);

        Assert.That(await Cache.CheckAndRecordAsync("iss|exact", "request-ä", until), Is.EqualTo(ReplayVerdict.FirstUse));
        Assert.That(await Cache.CheckAndRecordAsync("iss|exact", "request-ä", until), Is.EqualTo(ReplayVerdict.SameBinding));
        Assert.That(await Cache.CheckAndRecordAsync("iss|exact", "request-ab", until), Is.EqualTo(ReplayVerdict.Replayed), "as many UTF-8 bytes, other bytes");
        Assert.That(await Cache.CheckAndRecordAsync("iss|exact", "request-", until), Is.EqualTo(ReplayVerdict.Replayed), "a prefix");
        Assert.That(await Cache.CheckAndRecordAsync("iss|exact", "request-ä ", until), Is.EqualTo(ReplayVerdict.Replayed), "longer by a space");
        Assert.That(await Cache.CheckAndRecordAsync("iss|exact", "", until), Is.EqualTo(ReplayVerdict.Replayed), "empty");

        Assert.That(await Cache.CheckAndRecordAsync("iss|long", longBinding, until), Is.EqualTo(ReplayVerdict.FirstUse));
        Assert.That(await Cache.CheckAndRecordAsync("iss|long", new string('b', 300), until), Is.EqualTo(ReplayVerdict.SameBinding));
        Assert.That(await Cache.CheckAndRecordAsync("iss|long", new string('b', 299) + "c", until), Is.EqualTo(ReplayVerdict.Replayed), "differs in its last byte");
    }

    [Test]
    public async Task Concurrent_uses_of_one_token_have_exactly_one_first_use()
    {
        var verdicts = new ConcurrentBag<ReplayVerdict>();
        await Task.WhenAll(Enumerable.Range(0, 32).Select(i => Task.Run(async () =>
            verdicts.Add(await Cache.CheckAndRecordAsync("iss|contested", $"request-{i}", T0 + TimeSpan.FromMinutes(1))))));

        Assert.That(verdicts.Count(v => v == ReplayVerdict.FirstUse), Is.EqualTo(1));
        Assert.That(verdicts.Count(v => v == ReplayVerdict.Replayed), Is.EqualTo(31));
    }

    [Test]
    public async Task A_keep_until_already_past_is_still_remembered_briefly()
    {
        Assert.That(await Cache.CheckAndRecordAsync("iss|late", "request-a", T0 - TimeSpan.FromSeconds(1)), Is.EqualTo(ReplayVerdict.FirstUse));
        Assert.That(await Cache.CheckAndRecordAsync("iss|late", "request-b", T0 - TimeSpan.FromSeconds(1)), Is.EqualTo(ReplayVerdict.Replayed));
    }

    [Test]
    public async Task Long_and_odd_keys_are_kept_apart()
    {
        var longKey = new string('k', 500);
        var otherLongKey = new string('k', 499) + "j";
        var until = T0 + TimeSpan.FromMinutes(1);

        Assert.That(await Cache.CheckAndRecordAsync(longKey, "a", until), Is.EqualTo(ReplayVerdict.FirstUse));
        Assert.That(await Cache.CheckAndRecordAsync(otherLongKey, "b", until), Is.EqualTo(ReplayVerdict.FirstUse));
        Assert.That(await Cache.CheckAndRecordAsync("{brace}|ü", "c", until), Is.EqualTo(ReplayVerdict.FirstUse));
        Assert.That(await Cache.CheckAndRecordAsync(longKey, "b", until), Is.EqualTo(ReplayVerdict.Replayed));
    }
}
