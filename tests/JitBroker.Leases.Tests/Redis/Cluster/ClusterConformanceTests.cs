using JitBroker.Core;
using JitBroker.Leases.Redis;
using JitBroker.Leases.Tests.Stores;
using Microsoft.Extensions.Time.Testing;
using NUnit.Framework;

namespace JitBroker.Leases.Tests.Redis.Cluster;

/// <summary>The lease-store contracts on a real 3+3 Redis Cluster, 16 buckets, as the documented ACL user.</summary>
[TestFixture]
[CancelAfter(180_000)]
public sealed class ClusterLeaseLedgerConformanceTests : LeaseLedgerConformanceTests
{
    protected override Task<ILeaseStore> CreateStoreAsync() => ClusterStores.CreateAsync();
}

/// <summary>The lease-store contracts on a real 3+3 Redis Cluster, 16 buckets, as the documented ACL user.</summary>
[TestFixture]
[CancelAfter(180_000)]
public sealed class ClusterRevocationQueueConformanceTests : RevocationQueueConformanceTests
{
    protected override Task<ILeaseStore> CreateStoreAsync() => ClusterStores.CreateAsync();
}

/// <summary>The lease-store contracts on a real 3+3 Redis Cluster, 16 buckets, as the documented ACL user.</summary>
[TestFixture]
[CancelAfter(180_000)]
public sealed class ClusterLeaseQueriesConformanceTests : LeaseQueriesConformanceTests
{
    protected override Task<ILeaseStore> CreateStoreAsync() => ClusterStores.CreateAsync();
}

/// <summary>The lease-store contracts on a real 3+3 Redis Cluster, 16 buckets, as the documented ACL user.</summary>
[TestFixture]
[CancelAfter(180_000)]
public sealed class ClusterRevocationScheduleConformanceTests : RevocationScheduleConformanceTests
{
    protected override Task<ILeaseStore> CreateStoreAsync() => ClusterStores.CreateAsync();
}

/// <summary>The lease-store contracts on a real 3+3 Redis Cluster, 16 buckets, as the documented ACL user.</summary>
[TestFixture]
[CancelAfter(180_000)]
public sealed class ClusterRevocationOutboxConformanceTests : RevocationOutboxConformanceTests
{
    protected override Task<ILeaseStore> CreateStoreAsync() => ClusterStores.CreateAsync();
}

internal static class ClusterStores
{
    public static async Task<ILeaseStore> CreateAsync() =>
        new RedisLeaseStore(await SharedCluster.ConnectionAsync(), SharedCluster.NewLayout(), InMemoryLeaseStore.DefaultRevokedRetention);
}

[TestFixture]
[CancelAfter(120_000)]
public sealed class ClusterReplayCacheConformanceTests : ReplayCacheConformanceTests
{
    protected override async Task<IReplayCache> CreateCacheAsync(FakeTimeProvider clock) =>
        new RedisReplayCache(await SharedCluster.ConnectionAsync(), SharedCluster.NewLayout().Prefix, clock);
}

[TestFixture]
[CancelAfter(120_000)]
public sealed class ClusterKillSwitchConformanceTests : KillSwitchConformanceTests
{
    protected override async Task<IKillSwitch> CreateKillSwitchAsync() =>
        new RedisKillSwitch(await SharedCluster.ConnectionAsync(), SharedCluster.NewLayout().KillSwitchPrefix);
}

[TestFixture]
[CancelAfter(120_000)]
public sealed class ClusterApprovalStoreConformanceTests : ApprovalStoreConformanceTests
{
    protected override async Task<IApprovalStore> CreateStoreAsync(FakeTimeProvider clock) =>
        new RedisApprovalStore(await SharedCluster.ConnectionAsync(), SharedCluster.NewLayout().ApprovalPrefix, clock);
}
