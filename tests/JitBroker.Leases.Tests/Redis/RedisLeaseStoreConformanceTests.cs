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
