using JitBroker.Core;
using JitBroker.Leases.Redis;
using NUnit.Framework;

namespace JitBroker.Leases.Tests.Redis;

// The shared contracts on a real redis-server: one bucket (RedisLeaseStore...) and the ledger split into 16 buckets on
// one server (RedisBucketed...: the Cluster layout, single node).

/// <summary>The shared contract on one redis-server, one bucket.</summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class RedisLeaseLedgerConformanceTests : LeaseLedgerConformanceTests
{
    protected override Task<ILeaseStore> CreateStoreAsync() => RedisStores.SingleAsync();
}

/// <summary>The shared contract on one redis-server, one bucket.</summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class RedisRevocationQueueConformanceTests : RevocationQueueConformanceTests
{
    protected override Task<ILeaseStore> CreateStoreAsync() => RedisStores.SingleAsync();
}

/// <summary>The shared contract on one redis-server, one bucket.</summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class RedisLeaseQueriesConformanceTests : LeaseQueriesConformanceTests
{
    protected override Task<ILeaseStore> CreateStoreAsync() => RedisStores.SingleAsync();
}

/// <summary>The shared contract on one redis-server, one bucket.</summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class RedisRevocationScheduleConformanceTests : RevocationScheduleConformanceTests
{
    protected override Task<ILeaseStore> CreateStoreAsync() => RedisStores.SingleAsync();
}

/// <summary>The shared contract on one redis-server, one bucket.</summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class RedisRevocationOutboxConformanceTests : RevocationOutboxConformanceTests
{
    protected override Task<ILeaseStore> CreateStoreAsync() => RedisStores.SingleAsync();
}

/// <summary>The shared contract on one redis-server with 16 buckets (the Cluster layout).</summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class RedisBucketedLeaseLedgerConformanceTests : LeaseLedgerConformanceTests
{
    protected override Task<ILeaseStore> CreateStoreAsync() => RedisStores.BucketedAsync();
}

/// <summary>The shared contract on one redis-server with 16 buckets (the Cluster layout).</summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class RedisBucketedRevocationQueueConformanceTests : RevocationQueueConformanceTests
{
    protected override Task<ILeaseStore> CreateStoreAsync() => RedisStores.BucketedAsync();
}

/// <summary>The shared contract on one redis-server with 16 buckets (the Cluster layout).</summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class RedisBucketedLeaseQueriesConformanceTests : LeaseQueriesConformanceTests
{
    protected override Task<ILeaseStore> CreateStoreAsync() => RedisStores.BucketedAsync();
}

/// <summary>The shared contract on one redis-server with 16 buckets (the Cluster layout).</summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class RedisBucketedRevocationScheduleConformanceTests : RevocationScheduleConformanceTests
{
    protected override Task<ILeaseStore> CreateStoreAsync() => RedisStores.BucketedAsync();
}

/// <summary>The shared contract on one redis-server with 16 buckets (the Cluster layout).</summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class RedisBucketedRevocationOutboxConformanceTests : RevocationOutboxConformanceTests
{
    protected override Task<ILeaseStore> CreateStoreAsync() => RedisStores.BucketedAsync();
}

internal static class RedisStores
{
    public static async Task<ILeaseStore> SingleAsync() => new RedisLeaseStore(await SharedRedis.ConnectionAsync(), SharedRedis.NewPrefix());

    public static async Task<ILeaseStore> BucketedAsync() =>
        new RedisLeaseStore(await SharedRedis.ConnectionAsync(), new RedisKeyLayout(SharedRedis.NewPrefix(), 16), InMemoryLeaseStore.DefaultRevokedRetention);
}
