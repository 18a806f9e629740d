using JitBroker.Core.Admission;

namespace JitBroker.Core.Handlers;

/// <summary>
/// Steps 1–3 of the request path, shared by every agent-facing handler: attest the caller (a failure is counted in
/// metrics and in <see cref="AttestationFailureSummary"/>, which audits it once per interval, without the token), refuse a replayed identity token, refuse a blocked agent (audited). Handlers call the
/// steps they need in this order; nothing about a request is looked at before the caller is attested.
/// </summary>
public sealed class AgentAdmission
{

    private readonly AttestorRegistry _attestors;
    private readonly ReplayGuard _replay;
    private readonly IKillSwitch _killSwitch;
    private readonly BestEffortAudit _audit;
    private readonly BrokerMetrics _metrics;
    private readonly AttestationFailureSummary _failures;
    private readonly TimeProvider _time;

    public AgentAdmission(AttestorRegistry attestors, ReplayGuard replay, IKillSwitch killSwitch, BestEffortAudit audit, BrokerMetrics metrics,
        AttestationFailureSummary failures, TimeProvider time)
    {
        _failures = failures;
        _attestors = attestors;
        _replay = replay;
        _killSwitch = killSwitch;
        _audit = audit;
        _metrics = metrics;
        _time = time;
    }

    /// <summary>1 attest. Throws Unauthenticated (with the attestor's reason code) for an identity that does not attest.</summary>
    public Task<WorkloadIdentity> AttestAsync(AttestationEvidence evidence, CancellationToken cancellationToken = default) =>
        BrokerTracing.TraceAsync(BrokerTracing.Attest, () => AttestCoreAsync(evidence, cancellationToken));

    /// <summary>
    /// 2 replay and 3 kill switch for an attested agent: its identity token is recorded as used for
    /// <paramref name="replayBinding"/> (see <see cref="RequestHash.ForTask"/>), then a block on the agent refuses it.
    /// </summary>
    public async Task AdmitAsync(WorkloadIdentity agent, string replayBinding, string? taskId, CancellationToken cancellationToken = default)
    {
        await BrokerTracing.TraceAsync(BrokerTracing.Replay,
            () => _replay.CheckAsync(agent, replayBinding, cancellationToken).AsTask()).ConfigureAwait(false);
        await BrokerTracing.TraceAsync(BrokerTracing.Block, () => EnsureNotBlockedAsync(agent, taskId, cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>3 kill switch alone: PermissionDenied with <see cref="Reasons.AgentBlocked"/> when a block applies to the agent; the refusal is audited.</summary>
    public async Task EnsureNotBlockedAsync(WorkloadIdentity agent, string? taskId, CancellationToken cancellationToken = default)
    {
        if (await _killSwitch.FindBlockAsync(agent.Id, _time.GetUtcNow(), cancellationToken).ConfigureAwait(false) is { } block)
        {
            await _audit.RecordAsync(new AuditEvent
            {
                Type = AuditEventTypes.RequestDenied, AgentId = agent.Id, TaskId = taskId, Decision = "deny",
                Reason = Reasons.AgentBlocked, Detail = $"blocked by {block.BlockedBy} ({block.Pattern}): {block.Reason}",
            }, cancellationToken).ConfigureAwait(false);
            throw Blocked(block);
        }
    }

    internal static BrokerException Blocked(AgentBlock block) =>
        new(BrokerFailure.PermissionDenied, Reasons.AgentBlocked, $"This agent is blocked by an operator: {block.Reason}");

    private async Task<WorkloadIdentity> AttestCoreAsync(AttestationEvidence evidence, CancellationToken cancellationToken)
    {
        try
        {
            var identity = await _attestors.AttestAsync(evidence, cancellationToken).ConfigureAwait(false);
            return evidence.ClaimedAgentId is null || string.Equals(identity.Id, evidence.ClaimedAgentId, StringComparison.Ordinal)
                ? identity
                : throw new BrokerException(BrokerFailure.Unauthenticated, Reasons.IdentityClaimMismatch,
                    "The attested identity is not the client_id the request names.");
        }
        catch (BrokerException ex)
        {
            // Counted, not audited here: one record per failed call would put unauthenticated callers in the queue that
            // issuance waits on, and let them fill the audit volume.
            _metrics.AttestationFailed(ex.Reason);
            _failures.Record(ex.Reason, evidence.Peer, evidence.BearerToken is { } token ? Fingerprints.Of(token) : null);
            throw;
        }
    }
}
