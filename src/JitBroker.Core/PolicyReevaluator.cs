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
    private readonly ILeaseStore _leases;
    private readonly LeaseRevoker _revoker;
    private readonly IAuditLog _audit;
    private readonly BrokerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<PolicyReevaluator> _log;

    public PolicyReevaluator(ILeaseStore leases, LeaseRevoker revoker, IAuditLog audit, BrokerOptions options, TimeProvider time, ILogger<PolicyReevaluator> log)
    {
        _leases = leases;
        _revoker = revoker;
        _audit = audit;
        _options = options;
        _time = time;
        _log = log;
    }

    /// <summary>Returns the ids of the leases the policy no longer grants (revoked or flagged per <paramref name="action"/>).</summary>
    public async Task<IReadOnlyList<string>> ReevaluateAsync(IPolicyEngine policy, ReloadAction action, CancellationToken cancellationToken = default)
    {
        var offending = new List<string>();
        string? page = null;
        do
        {
            var result = await _leases.ListAsync(new LeaseQuery { State = LeaseState.Active, PageSize = 500, PageToken = page }, cancellationToken).ConfigureAwait(false);
            foreach (var lease in result.Leases)
            {
                if (StillGranted(policy, lease))
                {
                    continue;
                }

                offending.Add(lease.LeaseId);
                await HandleAsync(lease, action, cancellationToken).ConfigureAwait(false);
            }

            page = result.NextPageToken;
        }
        while (page is not null);

        return offending;
    }

    internal static bool StillGranted(IPolicyEngine policy, Lease lease)
    {
        // The request the lease answers: what the agent holds, for the whole lifetime it holds it.
        var lifetime = lease.ExpiresAt - lease.IssuedAt;
        var request = new CredentialRequest(lease.TaskId,
            new TaskIntent(lease.Scope.Action, "", lease.Scope.Tools, lease.Scope.Resources, new Dictionary<string, string>()),
            lease.IssuerKind, lease.Scope.Audience, lifetime);
        var decision = policy.Decide(AgentFacts.Rebuild(lease), request);
        // An approval-gated grant was approved once, for the rule as it was; a reload that still requires
        // approval for it does not withdraw that approval. A lowered maximum TTL does withdraw a longer lease.
        return decision.Effect != DecisionEffect.Deny && decision.Grant is { } grant &&
            CredentialBroker.Covers(grant.Scope, lease.Scope) && grant.Ttl >= lifetime - TimeSpan.FromSeconds(1);
    }

    private async Task HandleAsync(Lease lease, ReloadAction action, CancellationToken cancellationToken)
    {
        LogNoLongerGranted(_log, lease.LeaseId, lease.AgentId, action);
        if (action == ReloadAction.Revoke &&
            await _leases.TryClaimAsync(lease.LeaseId, _time.GetUtcNow(), _options.RevocationClaimTimeout, cancellationToken).ConfigureAwait(false) is { } claimed)
        {
            await _revoker.RevokeClaimedAsync(claimed, cancellationToken).ConfigureAwait(false);
            return;
        }

        try
        {
            await _audit.AppendAsync(new AuditEvent
            {
                Type = AuditEventTypes.PolicyReloaded, AgentId = lease.AgentId, TaskId = lease.TaskId, LeaseId = lease.LeaseId,
                Reason = "policy.no_longer_granted", Detail = "flagged: the reloaded policy would not grant this lease",
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogFlagLost(_log, lease.LeaseId, ex);
        }
    }

    [LoggerMessage(EventId = 1101, EventName = "LeaseNoLongerGranted", Level = LogLevel.Warning,
        Message = "After a policy reload, lease {LeaseId} of {AgentId} is no longer granted: {Action}")]
    private static partial void LogNoLongerGranted(ILogger logger, string leaseId, string agentId, ReloadAction action);

    [LoggerMessage(EventId = 1102, EventName = "ReloadFlagLost", Level = LogLevel.Error,
        Message = "Could not audit the flag on lease {LeaseId}")]
    private static partial void LogFlagLost(ILogger logger, string leaseId, Exception exception);
}
