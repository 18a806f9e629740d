using Microsoft.Extensions.Logging;

namespace JitBroker.Core;

/// <summary>
/// Revokes one claimed lease through its issuer and records the outcome. Shared by EndTask (synchronous)
/// and the expiry sweeper, so both follow exactly the same rules: "already gone" is done, a failure is
/// parked as <see cref="LeaseState.RevokeFailed"/> and rescheduled with backoff, never dropped.
/// </summary>
public sealed partial class LeaseRevoker
{
    private readonly ILeaseStore _leases;
    private readonly IssuerRegistry _issuers;
    private readonly RetryBackoff _backoff;
    private readonly TimeProvider _time;
    private readonly ILogger<LeaseRevoker> _log;
    private readonly RevocationAuditTrail? _audit;
    private readonly BrokerMetrics? _metrics;

    /// <param name="audit">Where revocations are recorded; a failure to record is logged (and recovered from the outbox), never allowed to undo a revocation.</param>
    /// <param name="metrics">Revocation outcome and lag instruments.</param>
    public LeaseRevoker(ILeaseStore leases, IssuerRegistry issuers, RetryBackoff backoff, TimeProvider time, ILogger<LeaseRevoker> log,
        RevocationAuditTrail? audit = null, BrokerMetrics? metrics = null)
    {
        _leases = leases;
        _issuers = issuers;
        _backoff = backoff;
        _time = time;
        _log = log;
        _audit = audit;
        _metrics = metrics;
    }

    /// <summary>Revokes a lease the caller has claimed. Never throws for backend failures.</summary>
    /// <param name="waitForAudit">
    /// False lets the sweeper go on as soon as the ledger has the revocation: the <c>lease.revoked</c> record is then
    /// written behind it, and the ledger's outbox guarantees it even if this replica dies first.
    /// </param>
    public async Task<RevocationResult> RevokeClaimedAsync(Lease lease, bool waitForAudit = true, CancellationToken cancellationToken = default)
    {
        RevocationResult result;
        if (!_issuers.TryGet(lease.IssuerKind, out var issuer))
        {
            // A lease whose issuer was removed from configuration cannot be revoked at its source; keep it
            // visible and retried rather than pretending it is gone.
            result = RevocationResult.Failed($"issuer kind '{lease.IssuerKind}' is not configured");
        }
        else
        {
            try
            {
                result = await issuer.RevokeAsync(lease, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                result = RevocationResult.Failed(ex is BrokerException be ? be.Message : ex.GetType().Name);
                LogIssuerThrew(_log, lease.LeaseId, lease.IssuerKind, ex);
            }
        }

        var now = _time.GetUtcNow();
        _metrics?.Revocation(result.Status, lease.IssuerKind);
        if (result.IsDone)
        {
            // Once the backend said "done", recording it must not depend on the caller still waiting: an
            // operator's cancelled call must not leave a revoked lease unmarked or marked but unaudited.
            // Only the call that changed the state writes the audit record, so racing revokers (EndTask and a
            // sweeper) leave exactly one lease.revoked event; the mark puts it in this replica's outbox atomically.
            if (await _leases.MarkRevokedAsync(lease.LeaseId, now, _audit?.Owner, CancellationToken.None).ConfigureAwait(false))
            {
                LogRevoked(_log, lease.LeaseId, lease.TaskId, lease.AgentId, result.Status);
                if (now >= lease.ExpiresAt)
                {
                    _metrics?.RevocationLag(now - lease.ExpiresAt);
                }

                if (_audit is not null)
                {
                    var recorded = await _audit.BeginRevokedAsync(lease, result.Status.ToString()).ConfigureAwait(false);
                    if (waitForAudit)
                    {
                        await recorded.ConfigureAwait(false);
                    }
                }
            }
            else
            {
                result = RevocationResult.AlreadyGone;
            }
        }
        else
        {
            var attempt = lease.Attempts + 1;
            var next = now + _backoff.DelayFor(attempt);
            await _leases.MarkRevokeFailedAsync(lease.LeaseId, result.Error ?? "unknown error", next, CancellationToken.None).ConfigureAwait(false);
            LogRevokeFailed(_log, lease.LeaseId, lease.IssuerKind, attempt, result.Error ?? "unknown error", next);
            if (_audit is not null)
            {
                await _audit.RecordAsync(AuditEventTypes.RevocationFailed, lease, $"attempt {attempt}: {result.Error}; next attempt {next:O}").ConfigureAwait(false);
            }
        }

        return result;
    }

    [LoggerMessage(EventId = 3001, EventName = "LeaseRevoked", Level = LogLevel.Information,
        Message = "Lease {LeaseId} of task {TaskId} (agent {AgentId}) revoked: {Status}")]
    private static partial void LogRevoked(ILogger logger, string leaseId, string taskId, string agentId, RevocationStatus status);

    [LoggerMessage(EventId = 3002, EventName = "LeaseRevokeFailed", Level = LogLevel.Warning,
        Message = "Revoking lease {LeaseId} ({IssuerKind}) failed on attempt {Attempt}: {Error}; next attempt at {NextAttemptAt:O}")]
    private static partial void LogRevokeFailed(ILogger logger, string leaseId, string issuerKind, int attempt, string error, DateTimeOffset nextAttemptAt);

    [LoggerMessage(EventId = 3003, EventName = "IssuerRevokeThrew", Level = LogLevel.Warning,
        Message = "Issuer {IssuerKind} threw while revoking lease {LeaseId}")]
    private static partial void LogIssuerThrew(ILogger logger, string leaseId, string issuerKind, Exception exception);
}
