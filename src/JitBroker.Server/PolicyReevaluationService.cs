using System.Threading.Channels;
using JitBroker.Core;
using JitBroker.Policy;

namespace JitBroker.Server;

/// <summary>
/// Continuous evaluation, owned by the host: every policy reload the engine reports is audited and the active leases
/// are decided again (those no longer granted revoked or flagged, per JitBroker:Policy:RevokeOnReload), one reload at a
/// time, on the host's stopping token. A failed reload is audited too — the old policy stays in force.
/// </summary>
/// <remarks>
/// The engine raises its event on its polling thread, so reloads are queued here, never run from the handler.
/// Stopping waits for the pass in flight: it stops examining leases, commits and audits what it found
/// (<see cref="PolicyReevaluator.ReevaluateAsync"/>), and reloads still queued get their audit record without a pass.
/// The audit log must still be open then: hosted services stop in reverse order of registration, so this service is
/// registered after <c>AddJitBrokerAudit</c> (BrokerServices) and stops before the log closes.
/// </remarks>
internal sealed partial class PolicyReevaluationService(
    PolicyReevaluator reevaluator, PolicyOptions options, IAuditLog audit, ILogger<PolicyReevaluationService> log,
    ReloadingPolicyEngine? engine = null) : BackgroundService
{
    private readonly Channel<PolicyReloadResult> _reloads = Channel.CreateUnbounded<PolicyReloadResult>(new UnboundedChannelOptions { SingleReader = true });

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        if (engine is not null)
        {
            engine.PolicyReloaded += OnReloaded;
        }

        return base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        if (engine is not null)
        {
            engine.PolicyReloaded -= OnReloaded;
        }

        _reloads.Writer.TryComplete();
        await base.StopAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var reload in _reloads.Reader.ReadAllAsync(stoppingToken))
            {
                await HandleAsync(reload, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: the pass in flight has committed what it found; what is still queued is audited below.
        }

        while (_reloads.Reader.TryRead(out var pending))
        {
            try
            {
                await AuditReloadAsync(pending, pending.Succeeded ? "; leases not re-evaluated: the broker was stopping" : "");
            }
            catch (Exception ex)
            {
                LogReevaluationFailed(log, ex);
            }
        }
    }

    // Polls that found nothing new are not news.
    private void OnReloaded(object? sender, PolicyReloadResult result)
    {
        if (!result.Succeeded || result.Changed)
        {
            _reloads.Writer.TryWrite(result);
        }
    }

    private async Task HandleAsync(PolicyReloadResult result, CancellationToken stoppingToken)
    {
        try
        {
            await AuditReloadAsync(result, "");
            if (!result.Succeeded || engine is null)
            {
                return;
            }

            var action = options.RevokeOnReload ? ReloadAction.Revoke : ReloadAction.Flag;
            var offending = await reevaluator.ReevaluateAsync(engine, action, stoppingToken);
            LogReevaluated(log, offending.Count, action);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
        {
            LogReevaluationFailed(log, ex);
        }
    }

    // The record of the reload itself is written whatever the stopping token says: it describes what already happened.
    private ValueTask AuditReloadAsync(PolicyReloadResult result, string note) =>
        audit.AppendAsync(new AuditEvent
        {
            Type = AuditEventTypes.PolicyReloaded,
            Reason = result.Succeeded ? null : "policy.reload_failed",
            Detail = result + note,
        }, CancellationToken.None);

    [LoggerMessage(EventId = 110, EventName = "LeasesReevaluated", Level = LogLevel.Information,
        Message = "Policy reloaded: {Count} active lease(s) no longer granted ({Action})")]
    private static partial void LogReevaluated(ILogger logger, int count, ReloadAction action);

    [LoggerMessage(EventId = 111, EventName = "ReevaluationFailed", Level = LogLevel.Error,
        Message = "Re-evaluating leases after a policy reload failed")]
    private static partial void LogReevaluationFailed(ILogger logger, Exception exception);
}
