using JitBroker.Core;
using Microsoft.Extensions.Time.Testing;
using NUnit.Framework;

namespace JitBroker.Leases.Tests.Stores;

[TestFixture]
public sealed class InMemoryReplayCacheConformanceTests : ReplayCacheConformanceTests
{
    protected override Task<IReplayCache> CreateCacheAsync(FakeTimeProvider clock) => Task.FromResult<IReplayCache>(new InMemoryReplayCache(clock));

    [Test]
    public async Task Entries_are_forgotten_once_their_keep_until_has_passed()
    {
        var cache = (InMemoryReplayCache)Cache;
        await cache.CheckAndRecordAsync("iss|jti", "a", T0 + TimeSpan.FromMinutes(5));

        Clock.Advance(TimeSpan.FromMinutes(5) - TimeSpan.FromMilliseconds(1));
        Assert.That(await cache.CheckAndRecordAsync("iss|jti", "b", T0 + TimeSpan.FromMinutes(5)), Is.EqualTo(ReplayVerdict.Replayed));

        Clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.That(await cache.CheckAndRecordAsync("iss|other", "x", T0 + TimeSpan.FromMinutes(10)), Is.EqualTo(ReplayVerdict.FirstUse));
        Assert.That(cache.Count, Is.EqualTo(1), "the expired entry was pruned");
        Assert.That(await cache.CheckAndRecordAsync("iss|jti", "b", T0 + TimeSpan.FromMinutes(10)), Is.EqualTo(ReplayVerdict.FirstUse));
    }
}

[TestFixture]
public sealed class InMemoryKillSwitchConformanceTests : KillSwitchConformanceTests
{
    protected override Task<IKillSwitch> CreateKillSwitchAsync() => Task.FromResult<IKillSwitch>(new InMemoryKillSwitch());
}

[TestFixture]
public sealed class InMemoryApprovalStoreConformanceTests : ApprovalStoreConformanceTests
{
    protected override Task<IApprovalStore> CreateStoreAsync(FakeTimeProvider clock) => Task.FromResult<IApprovalStore>(new InMemoryApprovalStore());
}
