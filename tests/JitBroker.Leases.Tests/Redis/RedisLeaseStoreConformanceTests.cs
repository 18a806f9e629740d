using JitBroker.Core;
using JitBroker.Leases.Redis;
using NUnit.Framework;

namespace JitBroker.Leases.Tests.Redis;

/// <summary>The shared contract, run against the Redis store on a real redis-server.</summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class RedisLeaseStoreConformanceTests : LeaseStoreConformanceTests
{
    protected override async Task<ILeaseStore> CreateStoreAsync() =>
        new RedisLeaseStore(await SharedRedis.ConnectionAsync(), SharedRedis.NewPrefix());
}

/// <summary>The same contract on one redis-server with the ledger split into 16 buckets (the Cluster layout, single node).</summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class RedisBucketedLeaseStoreConformanceTests : LeaseStoreConformanceTests
{
    protected override async Task<ILeaseStore> CreateStoreAsync() =>
        new RedisLeaseStore(await SharedRedis.ConnectionAsync(), new RedisKeyLayout(SharedRedis.NewPrefix(), 16), InMemoryLeaseStore.DefaultRevokedRetention);
}
