using JitBroker.Core;
using JitBroker.Policy;

namespace JitBroker.Server;

/// <summary>
/// Continuous evaluation: every successful policy reload is audited and the active leases are decided again;
/// those no longer granted are revoked (or flagged, per JitBroker:Policy:RevokeOnReload). A failed reload is
/// audited too — the old policy stays in force.
/// </summary>
internal sealed partial class PolicyReloadHook(IServiceProvider services, PolicyOptions options, IAuditLog audit, ILogger<PolicyReloadHook> log) : IHostedService
{
    private ReloadingPolicyEngine? _engine;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _engine = services.GetService<ReloadingPolicyEngine>();
        if (_engine is not null)
        {
            _engine.PolicyReloaded += OnReloaded;
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        if (_engine is not null)
        {
            _engine.PolicyReloaded -= OnReloaded;
        }

        return Task.CompletedTask;
    }

    private void OnReloaded(object? sender, PolicyReloadResult result) => _ = HandleAsync(result);

    private async Task HandleAsync(PolicyReloadResult result)
    {
        if (result.Succeeded && !result.Changed)
        {
            return; // polled, nothing new
        }

        try
        {
            await audit.AppendAsync(new AuditEvent
            {
                Type = AuditEventTypes.PolicyReloaded,
                Reason = result.Succeeded ? null : "policy.reload_failed",
                Detail = result.ToString(),
            });
            if (!result.Succeeded || _engine is null)
            {
                return;
            }

            var action = options.RevokeOnReload ? ReloadAction.Revoke : ReloadAction.Flag;
            var offending = await services.GetRequiredService<PolicyReevaluator>().ReevaluateAsync(_engine, action);
            LogReevaluated(log, offending.Count, action);
        }
        catch (Exception ex)
        {
            LogReevaluationFailed(log, ex);
        }
    }

    [LoggerMessage(EventId = 110, EventName = "LeasesReevaluated", Level = LogLevel.Information,
        Message = "Policy reloaded: {Count} active lease(s) no longer granted ({Action})")]
    private static partial void LogReevaluated(ILogger logger, int count, ReloadAction action);

    [LoggerMessage(EventId = 111, EventName = "ReevaluationFailed", Level = LogLevel.Error,
        Message = "Re-evaluating leases after a policy reload failed")]
    private static partial void LogReevaluationFailed(ILogger logger, Exception exception);
}

/// <summary>
/// Lease gauges (active, revoke_failed) and the approval queue size, refreshed in the background: a
/// metrics scrape must never wait on Redis.
/// </summary>
internal sealed class LeaseGauges(ILeaseStore leases, ApprovalService approvals, BrokerMetrics metrics) : BackgroundService
{
    private long _active;
    private long _failed;
    private long _pendingApprovals;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        metrics.AddGauge("jitbroker.leases.active", "{lease}", "Leases currently active.", () => Interlocked.Read(ref _active));
        metrics.AddGauge("jitbroker.leases.revoke_failed", "{lease}", "Leases whose revocation failed and is being retried.", () => Interlocked.Read(ref _failed));
        metrics.AddGauge("jitbroker.approvals.pending", "{approval}", "Requests waiting for a human's approval.", () => Interlocked.Read(ref _pendingApprovals));
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(5));
        do
        {
            try
            {
                var counts = await leases.CountByStateAsync(stoppingToken);
                Interlocked.Exchange(ref _active, counts.GetValueOrDefault(LeaseState.Active));
                Interlocked.Exchange(ref _failed, counts.GetValueOrDefault(LeaseState.RevokeFailed));
                Interlocked.Exchange(ref _pendingApprovals, (await approvals.ListPendingAsync(1000, stoppingToken)).Count);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The store is down: keep the last values; /readyz reports the outage.
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
