using JitBroker.Core;
using JitBroker.Leases.Tests.Redis;
using JitBroker.Leases.Tests.Redis.Cluster;
using NUnit.Framework;

namespace JitBroker.Leases.Tests;

/// <summary>The active-lease caps on the embedded store.</summary>
[TestFixture]
public sealed class InMemoryActiveLeaseCapConformanceTests : ActiveLeaseCapConformanceTests
{
    protected override Task<ILeaseStore> CreateStoreAsync() => InMemoryStores.Create();
}

/// <summary>The active-lease caps on one redis-server, one bucket.</summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class RedisActiveLeaseCapConformanceTests : ActiveLeaseCapConformanceTests
{
    protected override Task<ILeaseStore> CreateStoreAsync() => RedisStores.SingleAsync();
}

/// <summary>The active-lease caps on one redis-server with 16 buckets (the Cluster layout).</summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class RedisBucketedActiveLeaseCapConformanceTests : ActiveLeaseCapConformanceTests
{
    protected override Task<ILeaseStore> CreateStoreAsync() => RedisStores.BucketedAsync();
}

/// <summary>The active-lease caps on a real 3+3 Redis Cluster, as the documented ACL user.</summary>
[TestFixture]
[CancelAfter(180_000)]
public sealed class ClusterActiveLeaseCapConformanceTests : ActiveLeaseCapConformanceTests
{
    protected override Task<ILeaseStore> CreateStoreAsync() => ClusterStores.CreateAsync();
}
