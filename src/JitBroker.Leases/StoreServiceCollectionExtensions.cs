using JitBroker.Core;
using JitBroker.Leases.Redis;
using JitBroker.Redis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace JitBroker.Leases;

/// <summary>Registers the broker's shared state: Redis for production, in-memory for the embedded profile.</summary>
public static class StoreServiceCollectionExtensions
{
    /// <summary>
    /// Registers one <see cref="RedisConnection"/> (also as <see cref="IRedisConnection"/>; its
    /// <see cref="IRedisConnection.PingAsync"/> is the readiness probe) and the Redis implementations of
    /// <see cref="ILeaseStore"/> (registered as each of its parts, <see cref="ILeaseLedger"/>, <see cref="IRevocationQueue"/>,
    /// <see cref="ILeaseQueries"/>, <see cref="IRevocationSchedule"/> and <see cref="IRevocationOutbox"/>, all one singleton),
    /// <see cref="IReplayCache"/>, <see cref="IKillSwitch"/> and <see cref="IApprovalStore"/>, replacing any registered before. The stores use the container's <see cref="TimeProvider"/> (for replay and
    /// approval expiry); the connection's timeouts and backoff always run on the system clock. The lease store tells a
    /// registered <see cref="ILeaseDueSignal"/> (the sweeper's, see <c>AddJitBrokerRevocation</c>) of what it schedules.
    /// Nothing connects until first use (or <see cref="RedisConnection.ConnectAsync"/>).
    /// </summary>
    /// <param name="services">The container.</param>
    /// <param name="options">Redis options, validated here.</param>
    /// <param name="stateMac">
    /// Authenticates approvals, the kill-switch list and lease handles in Redis; every replica must share it. Null means
    /// <see cref="StateMac.ProcessEphemeral"/>, which only this process can verify (tests, tools — never the host).
    /// </param>
    /// <exception cref="InvalidOperationException">The options are invalid (all problems are listed).</exception>
    public static IServiceCollection AddJitBrokerRedis(this IServiceCollection services, RedisOptions options, StateMac? stateMac = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        var problems = options.Validate().ToList();
        if (problems.Count > 0)
        {
            throw new InvalidOperationException("Invalid Redis options: " + string.Join(" ", problems));
        }

        services.Replace(ServiceDescriptor.Singleton(options));
        // Timeouts and backoff are wall-clock infrastructure: a host running a fake clock must not freeze them.
        services.Replace(ServiceDescriptor.Singleton(sp => new RedisConnection(
            options, TimeProvider.System, sp.GetService<ILogger<RedisConnection>>())));
        services.Replace(ServiceDescriptor.Singleton<IRedisConnection>(sp => sp.GetRequiredService<RedisConnection>()));
        var layout = new RedisKeyLayout(options.KeyPrefix, options.Buckets);
        services.Replace(ServiceDescriptor.Singleton(layout));
        services.Replace(ServiceDescriptor.Singleton(sp => new RedisLeaseStore(sp.GetRequiredService<IRedisConnection>(), layout, InMemoryLeaseStore.DefaultRevokedRetention, stateMac,
            sp.GetService<ILeaseDueSignal>())));
        AddLeaseStoreParts<RedisLeaseStore>(services);
        services.Replace(ServiceDescriptor.Singleton<IReplayCache>(sp =>
            new RedisReplayCache(sp.GetRequiredService<IRedisConnection>(), options.KeyPrefix, sp.GetService<TimeProvider>() ?? TimeProvider.System)));
        services.Replace(ServiceDescriptor.Singleton<IKillSwitch>(sp =>
            new RedisKillSwitch(sp.GetRequiredService<IRedisConnection>(), layout.KillSwitchPrefix, stateMac)));
        services.Replace(ServiceDescriptor.Singleton<IApprovalStore>(sp =>
            new RedisApprovalStore(sp.GetRequiredService<IRedisConnection>(), layout.ApprovalPrefix, sp.GetService<TimeProvider>() ?? TimeProvider.System, stateMac)));
        return services;
    }

    /// <summary>
    /// Registers the embedded, single-node implementations (<see cref="InMemoryLeaseStore"/>, as each of its parts,
    /// <see cref="InMemoryReplayCache"/>, <see cref="InMemoryKillSwitch"/>, <see cref="InMemoryApprovalStore"/>),
    /// replacing any registered before. Nothing survives a restart.
    /// </summary>
    public static IServiceCollection AddJitBrokerInMemoryStores(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.Replace(ServiceDescriptor.Singleton(sp => new InMemoryLeaseStore(InMemoryLeaseStore.DefaultRevokedRetention, sp.GetService<ILeaseDueSignal>())));
        AddLeaseStoreParts<InMemoryLeaseStore>(services);
        services.Replace(ServiceDescriptor.Singleton<IReplayCache>(sp => new InMemoryReplayCache(sp.GetService<TimeProvider>() ?? TimeProvider.System)));
        services.Replace(ServiceDescriptor.Singleton<IKillSwitch, InMemoryKillSwitch>());
        services.Replace(ServiceDescriptor.Singleton<IApprovalStore, InMemoryApprovalStore>());
        return services;
    }

    // Each part a consumer may take is the one store singleton; ILeaseStore itself is not registered, so nothing can take
    // the whole store when it uses a part.
    private static void AddLeaseStoreParts<TStore>(IServiceCollection services)
        where TStore : class, ILeaseStore, IRevocationSchedule, IRevocationOutbox
    {
        services.Replace(ServiceDescriptor.Singleton<ILeaseLedger>(sp => sp.GetRequiredService<TStore>()));
        services.Replace(ServiceDescriptor.Singleton<IRevocationQueue>(sp => sp.GetRequiredService<TStore>()));
        services.Replace(ServiceDescriptor.Singleton<ILeaseQueries>(sp => sp.GetRequiredService<TStore>()));
        services.Replace(ServiceDescriptor.Singleton<IRevocationSchedule>(sp => sp.GetRequiredService<TStore>()));
        services.Replace(ServiceDescriptor.Singleton<IRevocationOutbox>(sp => sp.GetRequiredService<TStore>()));
    }
}
