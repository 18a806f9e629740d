using JitBroker.Core;
using JitBroker.Leases.Redis;
using JitBroker.Leases.Tests.Redis;
using JitBroker.Redis;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace JitBroker.Leases.Tests.Stores;

[TestFixture]
public sealed class StoreRegistrationTests
{
    [Test]
    public async Task Redis_registration_shares_one_connection_between_all_four_stores_and_it_answers_the_readiness_probe()
    {
        var server = await SharedRedis.ServerAsync();
        var services = new ServiceCollection().AddJitBrokerInMemoryStores();

        var options = SharedRedis.BrokerOptions(server);
        options.KeyPrefix = SharedRedis.NewPrefix();
        services.AddJitBrokerRedis(options);
        await using var provider = services.BuildServiceProvider();

        AssertLeaseStorePartsAreOne<RedisLeaseStore>(provider); // Redis replaces the embedded stores
        Assert.That(provider.GetRequiredService<IReplayCache>(), Is.InstanceOf<RedisReplayCache>());
        Assert.That(provider.GetRequiredService<IKillSwitch>(), Is.InstanceOf<RedisKillSwitch>());
        Assert.That(provider.GetRequiredService<IApprovalStore>(), Is.InstanceOf<RedisApprovalStore>());
        Assert.That(provider.GetRequiredService<IRedisConnection>(), Is.SameAs(provider.GetRequiredService<RedisConnection>()));
        Assert.That(await provider.GetRequiredService<IRedisConnection>().PingAsync(), Is.True);
        Assert.That(await provider.GetRequiredService<IRevocationQueue>().ClaimDueAsync(DateTimeOffset.UnixEpoch.AddYears(100), 10, TimeSpan.FromSeconds(30)), Is.Empty,
            "the resolved parts reach the store through the shared connection");
    }

    [Test]
    public void Invalid_redis_options_fail_at_registration_with_every_problem()
    {
        var error = Assert.Throws<InvalidOperationException>(() =>
            new ServiceCollection().AddJitBrokerRedis(new RedisOptions { Database = -1, KeyPrefix = "" }));

        Assert.That(error!.Message, Does.Contain("exactly one").And.Contain("Database").And.Contain("KeyPrefix"));
    }

    [Test]
    public void The_embedded_profile_registers_the_in_memory_stores()
    {
        using var provider = new ServiceCollection().AddJitBrokerInMemoryStores().BuildServiceProvider();

        AssertLeaseStorePartsAreOne<InMemoryLeaseStore>(provider);
        Assert.That(provider.GetRequiredService<IReplayCache>(), Is.InstanceOf<InMemoryReplayCache>());
        Assert.That(provider.GetRequiredService<IKillSwitch>(), Is.InstanceOf<InMemoryKillSwitch>());
        Assert.That(provider.GetRequiredService<IApprovalStore>(), Is.InstanceOf<InMemoryApprovalStore>());
    }

    [Test]
    public void The_whole_lease_store_is_not_registered_so_consumers_take_only_the_parts_they_use()
    {
        using var provider = new ServiceCollection().AddJitBrokerInMemoryStores().BuildServiceProvider();

        Assert.That(provider.GetService<ILeaseStore>(), Is.Null);
    }

    // Every part resolves to the one store singleton: a lease recorded through the ledger is the one the sweeper claims.
    private static void AssertLeaseStorePartsAreOne<TStore>(IServiceProvider provider)
        where TStore : class
    {
        var store = provider.GetRequiredService<TStore>();
        Assert.That(provider.GetRequiredService<ILeaseLedger>(), Is.SameAs(store));
        Assert.That(provider.GetRequiredService<IRevocationQueue>(), Is.SameAs(store));
        Assert.That(provider.GetRequiredService<ILeaseQueries>(), Is.SameAs(store));
        Assert.That(provider.GetRequiredService<IRevocationSchedule>(), Is.SameAs(store));
        Assert.That(provider.GetRequiredService<IRevocationOutbox>(), Is.SameAs(store));
    }
}
