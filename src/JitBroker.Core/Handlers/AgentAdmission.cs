using System.Runtime.CompilerServices;
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

    /// <summary>
    /// 1 attest. Throws Unauthenticated (with the attestor's reason code) for an identity that does not attest. The DPoP proof
    /// key the transport validated (<see cref="AttestationEvidence.ProofKeyThumbprint"/>) is copied onto the identity here,
    /// not by the attestor, so every attestor binds the same way and none can forget to; a thumbprint that is not a
    /// base64url SHA-256 is refused (InvalidArgument, <see cref="Reasons.RequestInvalid"/>) rather than put in a token.
    /// </summary>
    /// <remarks>A ValueTask: attestation usually completes without waiting (a cached bundle), and then costs no Task.</remarks>
    public ValueTask<WorkloadIdentity> AttestAsync(AttestationEvidence evidence, CancellationToken cancellationToken = default) =>
        AttestCoreAsync(evidence, cancellationToken);

    /// <summary>
    /// 2 replay and 3 kill switch for an attested agent: its identity token is recorded as used for
    /// <paramref name="replayBinding"/> (see <see cref="RequestHash.ForTask"/>), then a block on the agent refuses it.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask AdmitAsync(WorkloadIdentity agent, string replayBinding, string? taskId, CancellationToken cancellationToken = default)
    {
        // The steps' spans inline, not BrokerTracing.TraceAsync(lambda): no closure, delegates, Task wrapper or extra
        // state machine per request.
        // The kill switch's look is sent before the replay check is awaited: the two are independent reads/writes, so
        // they share one Redis round trip (and its thread hops) instead of taking two in turn. The refusals keep their
        // order: a replayed token is refused as replayed even when its agent is also blocked.
        var blockLook = _killSwitch.FindBlockAsync(agent.Id, _time.GetUtcNow(), cancellationToken);
        using (var replaySpan = BrokerTracing.Step(BrokerTracing.Replay))
        {
            try
            {
                await _replay.CheckAsync(agent, replayBinding, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                if (ex is BrokerException refusal)
                {
                    BrokerTracing.Fail(replaySpan, refusal.Reason);
                }

                await ObserveAsync(blockLook).ConfigureAwait(false);
                throw;
            }
        }

        using (var blockSpan = BrokerTracing.Step(BrokerTracing.Block))
        {
            try
            {
                // EnsureNotBlockedAsync's look, awaited here so it costs no second state machine; the refusal is shared.
                if (await blockLook.ConfigureAwait(false) is { } block)
                {
                    await RefuseBlockedAsync(agent, taskId, block, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (BrokerException ex)
            {
                BrokerTracing.Fail(blockSpan, ex.Reason);
                throw;
            }
        }
    }

    /// <summary>Awaits a look the request no longer needs (the replay check refused first): its outcome, even a failure, is moot.</summary>
    private static async Task ObserveAsync(ValueTask<AgentBlock?> look)
    {
        try
        {
            await look.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The replay check's refusal or failure is what the caller gets.
        }
    }

    /// <summary>3 kill switch alone: PermissionDenied with <see cref="Reasons.AgentBlocked"/> when a block applies to the agent; the refusal is audited.</summary>
    public async Task EnsureNotBlockedAsync(WorkloadIdentity agent, string? taskId, CancellationToken cancellationToken = default)
    {
        if (await _killSwitch.FindBlockAsync(agent.Id, _time.GetUtcNow(), cancellationToken).ConfigureAwait(false) is { } block)
        {
            await RefuseBlockedAsync(agent, taskId, block, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Audits the refusal of a blocked agent, then throws it (PermissionDenied, <see cref="Reasons.AgentBlocked"/>).</summary>
    private async Task RefuseBlockedAsync(WorkloadIdentity agent, string? taskId, AgentBlock block, CancellationToken cancellationToken)
    {
        await _audit.RecordAsync(new AuditEvent
        {
            Type = AuditEventTypes.RequestDenied, AgentId = agent.Id, TaskId = taskId, Decision = "deny",
            Reason = Reasons.AgentBlocked, Detail = $"blocked by {block.BlockedBy} ({block.Pattern}): {block.Reason}",
        }, cancellationToken).ConfigureAwait(false);
        throw Blocked(block);
    }

    internal static BrokerException Blocked(AgentBlock block) =>
        new(BrokerFailure.PermissionDenied, Reasons.AgentBlocked, $"This agent is blocked by an operator: {block.Reason}");

    private async ValueTask<WorkloadIdentity> AttestCoreAsync(AttestationEvidence evidence, CancellationToken cancellationToken)
    {
        // The step's span inline, not BrokerTracing.TraceAsync(lambda): no closure or delegate per request. Every
        // refusal below marks it failed, as the wrapper did.
        using var attestSpan = BrokerTracing.Step(BrokerTracing.Attest);
        WorkloadIdentity identity;
        try
        {
            identity = await _attestors.AttestAsync(evidence, cancellationToken).ConfigureAwait(false);
            if (evidence.ClaimedAgentId is { } claimed && !string.Equals(identity.Id, claimed, StringComparison.Ordinal))
            {
                throw new BrokerException(BrokerFailure.Unauthenticated, Reasons.IdentityClaimMismatch,
                    "The attested identity is not the client_id the request names.");
            }
        }
        catch (BrokerException ex)
        {
            // Counted, not audited here: one record per failed call would put unauthenticated callers in the queue that
            // issuance waits on, and let them fill the audit volume.
            _metrics.AttestationFailed(ex.Reason);
            _failures.Record(ex.Reason, evidence.Peer, evidence.HasBearerToken ? Fingerprints.Of(evidence.BearerTokenMemory.Span) : null);
            BrokerTracing.Fail(attestSpan, ex.Reason);
            throw;
        }

        if (evidence.ProofKeyThumbprint is not { } proofKey)
        {
            // An attestor never sets the binding: only a proof the transport checked on this very call does.
            return identity.ProofKeyThumbprint is null ? identity : identity with { ProofKeyThumbprint = null };
        }

        if (!IsSha256Thumbprint(proofKey))
        {
            BrokerTracing.Fail(attestSpan, Reasons.RequestInvalid);
            throw new BrokerException(BrokerFailure.InvalidArgument, Reasons.RequestInvalid,
                "The DPoP proof key thumbprint is not a base64url SHA-256 JWK thumbprint (RFC 7638).");
        }

        return identity with { ProofKeyThumbprint = proofKey };
    }

    /// <summary>43 characters of unpadded base64url: exactly 32 bytes (RFC 7638 §3 with SHA-256, RFC 9449 §6.1).</summary>
    internal static bool IsSha256Thumbprint(string value)
    {
        if (value.Length != 43)
        {
            return false;
        }

        foreach (var c in value)
        {
            if (c is not ((>= 'A' and <= 'Z') or (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '_'))
            {
                return false;
            }
        }

        // The last character carries 4 bits of the final byte and 2 unused bits, which must be zero (RFC 4648 §3.5):
        // otherwise two spellings would name one key.
        return "AEIMQUYcgkosw048".Contains(value[^1], StringComparison.Ordinal);
    }
}
