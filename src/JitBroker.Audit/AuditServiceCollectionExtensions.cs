using JitBroker.Core;
using JitBroker.Issuance;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace JitBroker.Audit;

/// <summary>Registers the hash-chained audit log.</summary>
public static class AuditServiceCollectionExtensions
{
    /// <summary>
    /// Registers <paramref name="options"/>, an <see cref="IAuditSink"/> (an <see cref="AuditFileSink"/> on
    /// <see cref="AuditOptions.Path"/>, unless the host registered a sink first), <see cref="AuditLog"/> as
    /// <see cref="IAuditLog"/>, and a hosted service that opens the log at start-up — so a torn, edited or
    /// unchained file stops the host with an error naming the line — and drains, checkpoints and syncs it at
    /// shutdown. The host must register <see cref="AuditSigningKeys"/> (never the token key), <see cref="TimeProvider"/> and logging.
    /// </summary>
    /// <exception cref="InvalidOperationException">The options are invalid (all problems are listed).</exception>
    public static IServiceCollection AddJitBrokerAudit(this IServiceCollection services, AuditOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        var problems = options.Validate().ToList();
        if (problems.Count > 0)
        {
            throw new InvalidOperationException("Invalid audit options: " + string.Join(" ", problems));
        }

        services.Replace(ServiceDescriptor.Singleton(options));
        services.TryAddSingleton<IAuditSink>(_ => new AuditFileSink(options));
        services.TryAddSingleton(sp => new AuditLog(
            sp.GetRequiredService<IAuditSink>(),
            sp.GetRequiredService<AuditSigningKeys>().Provider,
            sp.GetRequiredService<TimeProvider>(),
            options,
            sp.GetRequiredService<ILogger<AuditLog>>(),
            sp.GetService<BrokerMetrics>()));
        services.TryAddSingleton<IAuditLog>(sp => sp.GetRequiredService<AuditLog>());
        services.AddHostedService<AuditLogHostedService>();
        return services;
    }
}

/// <summary>Opens the audit log with the host (failing start-up when it cannot be continued) and closes it on stop.</summary>
internal sealed class AuditLogHostedService(AuditLog log) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => log.StartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => log.DisposeAsync().AsTask().WaitAsync(cancellationToken);
}
