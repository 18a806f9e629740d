using Grpc.AspNetCore.HealthChecks;
using JitBroker.Core;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace JitBroker.Server;

/// <summary>
/// gRPC on Grpc.AspNetCore: message limits, the door every call passes (<see cref="GrpcDoor"/>: inline in the agent
/// API, an interceptor on the admin service), grpc.health.v1 (Check and
/// Watch) driven by the same ASP.NET Core health checks as <c>/readyz</c>, and optional server reflection.
/// </summary>
internal static class GrpcSetup
{
    /// <summary>Health-check tag of the checks that decide readiness (and gRPC health).</summary>
    public const string ReadyTag = "ready";

    public static void Add(IServiceCollection services, JitBrokerSettings settings)
    {
        services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = settings.Listen.MaxReceiveMessageSize;
            o.MaxSendMessageSize = settings.Listen.MaxSendMessageSize;
            o.EnableDetailedErrors = false; // an unexpected exception never reaches the client's status message
            // Unknown services and methods are answered UNIMPLEMENTED by ListenerRoles' middleware, not by grpc-dotnet's two
            // catch-all routes: routing computed their captures for every call (0.3 KiB per request, docs/benchmarks.md).
            o.IgnoreUnknownServices = true;
        }).AddServiceOptions<BrokerAdminGrpcService>(o => o.Interceptors.Add<BrokerCallInterceptor>());
        services.AddSingleton<GrpcDoor>();
        services.AddSingleton<BrokerCallInterceptor>();
        services.AddSingleton<PeerAdmission>();

        services.AddHealthChecks()
            .AddCheck<LifetimeHealthCheck>("lifetime", tags: [ReadyTag])
            .AddCheck<BackendsHealthCheck>("backends", tags: [ReadyTag]);
        services.AddGrpcHealthChecks(o =>
        {
            // Check runs the checks on demand; Watch follows the periodic publisher below.
            o.UseHealthChecksCache = false;
            o.Services.Clear();
            foreach (var service in new[] { "", CredentialBrokerGrpcService.ServiceName, BrokerAdminGrpcService.ServiceName })
            {
                o.Services.Map(service, r => r.Tags.Contains(ReadyTag));
            }
        });
        services.Configure<HealthCheckPublisherOptions>(o =>
        {
            o.Delay = TimeSpan.Zero;
            o.Period = TimeSpan.FromSeconds(5);
        });

        if (settings.Listen.ReflectionEnabled(settings.IsEmbedded))
        {
            services.AddGrpcReflection();
        }
    }

    public static void Map(WebApplication app, JitBrokerSettings settings)
    {
        app.MapGrpcService<CredentialBrokerGrpcService>().OnlyOn(ListenerRole.Agent);
        app.MapGrpcService<BrokerAdminGrpcService>().OnlyOn(ListenerRole.Admin);
        app.MapGrpcHealthChecksService();
        if (settings.Listen.ReflectionEnabled(settings.IsEmbedded))
        {
            app.MapGrpcReflectionService();
        }
    }
}

/// <summary>Unhealthy once shutdown begins, so load balancers stop sending calls to a broker that is going away.</summary>
internal sealed class LifetimeHealthCheck(IHostApplicationLifetime lifetime) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(lifetime.ApplicationStopping.IsCancellationRequested
            ? HealthCheckResult.Unhealthy("shutting down")
            : HealthCheckResult.Healthy());
}

/// <summary>Every backend the broker cannot serve without (Redis, Vault when configured), each within a short bound.</summary>
internal sealed class BackendsHealthCheck(IEnumerable<IReadinessCheck> checks) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(2));
        var results = await Task.WhenAll(checks.Select(async c => (c.Name, Ready: await SafeAsync(c, timeout.Token))));
        var down = results.Where(r => !r.Ready).Select(r => r.Name).ToList();
        return down.Count == 0 ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy(string.Join(", ", down));
    }

    private static async Task<bool> SafeAsync(IReadinessCheck check, CancellationToken cancellationToken)
    {
        try
        {
            return await check.IsReadyAsync(cancellationToken);
        }
        catch (Exception)
        {
            return false;
        }
    }
}
