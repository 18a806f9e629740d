using Microsoft.Extensions.Logging;

namespace JitBroker.Core;

/// <summary>What happens to active leases a reloaded policy would no longer grant.</summary>
public enum ReloadAction
{
    /// <summary>Revoke them now.</summary>
    Revoke,
    /// <summary>Leave them to expire, but log and audit each one.</summary>
    Flag,
}

/// <summary>
/// Continuous evaluation: after a policy reload, every active lease is decided again as if requested now
/// (identity rebuilt from the facts the lease kept) and those no longer granted are revoked or flagged.
/// </summary>
public sealed partial class PolicyReevaluator
{
    private readonly ILeaseQueries _queries;
    private readonly ILeaseLedger _ledger;
    private readonly IRevocationSchedule _schedule;
    private readonly IAuditLog _audit;
    private readonly TimeProvider _time;
    private readonly ILogger<PolicyReevaluator> _log;
    private readonly IDelegationPolicy? _delegation;

    /// <param name="delegation">Judges delegated (child) leases; without it a delegated lease is never still granted.</param>
    public PolicyReevaluator(ILeaseQueries queries, ILeaseLedger ledger, IRevocationSchedule schedule, IAuditLog audit, TimeProvider time, ILogger<PolicyReevaluator> log,
        IDelegationPolicy? delegation = null)
    {
        _delegation = delegation;
        _queries = queries;
        _ledger = ledger;
        _schedule = schedule;
        _audit = audit;
        _time = time;
        _log = log;
    }

    /// <summary>
    /// Returns the ids of the leases the policy no longer grants. With <see cref="ReloadAction.Revoke"/> they (and
    /// everything delegated from them) are scheduled for revocation through the same bulk path as an operator's
    /// revoke — the sweepers revoke them; with <see cref="ReloadAction.Flag"/> each is audited and left to expire.
    /// Cancelling (the host stopping) stops the examination at the next page, not the commit: what was found is still
    /// scheduled and audited, and the audit record says the pass was cut short, so no decision taken is lost with the process.
    /// </summary>
    public async Task<IReadOnlyList<string>> ReevaluateAsync(IPolicyEngine policy, ReloadAction action, CancellationToken cancellationToken = default)
    {
        var offending = new List<string>();
        var examined = 0;
        var interrupted = false;
        string? page = null;
        try
        {
            do
            {
                cancellationToken.ThrowIfCancellationRequested();
                var result = await _queries.ListAsync(new LeaseQuery { State = LeaseState.Active, PageSize = 500, PageToken = page }, cancellationToken).ConfigureAwait(false);
                // A page in hand is judged to its end (policy decisions are in-memory work); cancelling stops the next one.
                foreach (var lease in result.Leases)
                {
                    var stillGranted = lease.ParentLeaseId is null
                        ? StillGranted(policy, lease)
                        : await DelegationStillAllowedAsync(policy as IDelegationPolicy ?? _delegation, lease, cancellationToken).ConfigureAwait(false);
                    examined++;
                    if (stillGranted)
                    {
                        continue;
                    }

                    offending.Add(lease.LeaseId);
                    await HandleAsync(lease, action).ConfigureAwait(false);
                }

                page = result.NextPageToken;
            }
            while (page is not null);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            interrupted = true;
        }

        var cutShort = interrupted ? $"; interrupted by shutdown after {examined} lease(s), the rest not re-evaluated" : "";
        if (action == ReloadAction.Revoke && offending.Count > 0)
        {
            var batchId = RevocationBatchIds.New();
            var batch = await _schedule.ScheduleLeasesAsync(offending, _time.GetUtcNow(), batchId, CancellationToken.None).ConfigureAwait(false);
            await AuditQuietlyAsync(new AuditEvent
            {
                Type = AuditEventTypes.RevocationScheduled, Reason = Reasons.Revocation.PolicyNoLongerGranted,
                Detail = $"policy reload: {batch.Scheduled} scheduled, {batch.InProgress} already being revoked (batch {batchId}){cutShort}",
            }).ConfigureAwait(false);
        }
        else if (interrupted)
        {
            await AuditQuietlyAsync(new AuditEvent
            {
                Type = AuditEventTypes.PolicyReloaded, Reason = Reasons.Revocation.PolicyNoLongerGranted,
                Detail = $"policy reload: {offending.Count} lease(s) no longer granted{cutShort}",
            }).ConfigureAwait(false);
        }

        return offending;
    }

    internal static bool StillGranted(IPolicyEngine policy, Lease lease)
    {
        // The request the lease answers: what the agent holds, for the whole lifetime it holds it.
        var lifetime = lease.ExpiresAt - lease.IssuedAt;
        var request = new CredentialRequest(lease.TaskId,
            DecidedIntent.Of(lease), lease.IssuerKind, lease.Scope.Audience, lifetime);
        var decision = policy.Decide(AgentFacts.Rebuild(lease), request);
        // An approval-gated grant was approved once, for the rule as it was; a reload that still requires
        // approval for it does not withdraw that approval. A lowered maximum TTL does withdraw a longer lease.
        return decision.Effect != DecisionEffect.Deny && decision.Grant is { } grant &&
            ScopeCoverage.Covers(grant.Scope, lease.Scope) && grant.Ttl >= lifetime - TimeSpan.FromSeconds(1);
    }

    /// <summary>
    /// A delegated lease is judged by the delegation rules, not the credential rules (the worker holds the
    /// planner's grant, not one of its own): the planner (as recorded on the parent) may still delegate this
    /// action to this worker at this depth. Its parent is judged on its own, and revoking it takes the child.
    /// </summary>
    private async Task<bool> DelegationStillAllowedAsync(IDelegationPolicy? delegation, Lease lease, CancellationToken cancellationToken)
    {
        if (delegation is null || lease.ParentLeaseId is null)
        {
            return false;
        }

        var parent = await _ledger.GetAsync(lease.ParentLeaseId, cancellationToken).ConfigureAwait(false);
        if (parent is null)
        {
            return false;
        }

        var depth = 1;
        for (var up = parent; up.ParentLeaseId is { } next && depth <= 32; depth++)
        {
            up = await _ledger.GetAsync(next, cancellationToken).ConfigureAwait(false);
            if (up is null)
            {
                return false;
            }
        }

        var decision = delegation.Decide(AgentFacts.Rebuild(parent), lease.AgentId, lease.Scope.Action);
        return decision.Allowed && depth <= decision.MaxDepth;
    }

    private async Task HandleAsync(Lease lease, ReloadAction action)
    {
        LogNoLongerGranted(_log, lease.LeaseId, lease.AgentId, action);
        if (action == ReloadAction.Flag)
        {
            await AuditQuietlyAsync(new AuditEvent
            {
                Type = AuditEventTypes.PolicyReloaded, AgentId = lease.AgentId, TaskId = lease.TaskId, LeaseId = lease.LeaseId,
                Reason = Reasons.Revocation.PolicyNoLongerGranted, Detail = "flagged: the reloaded policy would not grant this lease",
            }).ConfigureAwait(false);
        }
    }

    private async Task AuditQuietlyAsync(AuditEvent auditEvent)
    {
        try
        {
            await _audit.AppendAsync(auditEvent, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogFlagLost(_log, auditEvent.LeaseId ?? "(batch)", ex);
        }
    }

    [LoggerMessage(EventId = 1101, EventName = "LeaseNoLongerGranted", Level = LogLevel.Warning,
        Message = "After a policy reload, lease {LeaseId} of {AgentId} is no longer granted: {Action}")]
    private static partial void LogNoLongerGranted(ILogger logger, string leaseId, string agentId, ReloadAction action);

    [LoggerMessage(EventId = 1102, EventName = "ReloadFlagLost", Level = LogLevel.Error,
        Message = "Could not audit the flag on lease {LeaseId}")]
    private static partial void LogFlagLost(ILogger logger, string leaseId, Exception exception);
}
