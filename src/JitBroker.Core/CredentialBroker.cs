using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace JitBroker.Core;

/// <summary>
/// The request path of DESIGN.md, step by step: attest → replay → block → decide → mint → record → audit →
/// return. Transports call this and only map messages; every decision happens here or in a component it
/// calls. EndTask and introspection live in CredentialBroker.Tasks.cs, renewal in CredentialBroker.Renewal.cs.
/// </summary>
public sealed partial class CredentialBroker
{
    /// <summary>Tokens larger than this are never a credential we minted; answer inactive without parsing.</summary>
    public const int MaxIntrospectedTokenLength = 16 * 1024;

    private readonly AttestorRegistry _attestors;
    private readonly IPolicyEngine _policy;
    private readonly IssuerRegistry _issuers;
    private readonly ILeaseStore _leases;
    private readonly LeaseRevoker _revoker;
    private readonly IReadOnlyList<ITaskCredentialVerifier> _verifiers;
    private readonly ReplayGuard _replay;
    private readonly IKillSwitch _killSwitch;
    private readonly ApprovalService _approvals;
    private readonly IAuditLog _audit;
    private readonly BrokerMetrics _metrics;
    private readonly IReplayCache _replayCache;
    private readonly IDelegationOfferCodec? _offers;
    private readonly IDelegationPolicy? _delegationPolicy;
    private readonly BrokerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<CredentialBroker> _log;

    public CredentialBroker(
        AttestorRegistry attestors,
        IPolicyEngine policy,
        IssuerRegistry issuers,
        IEnumerable<ITaskCredentialVerifier> verifiers,
        BrokerCollaborators collaborators,
        BrokerOptions options,
        TimeProvider time,
        ILogger<CredentialBroker> log)
    {
        _attestors = attestors;
        _policy = policy;
        _issuers = issuers;
        _verifiers = [.. verifiers];
        _leases = collaborators.Leases;
        _revoker = collaborators.Revoker;
        _replay = new ReplayGuard(collaborators.ReplayCache, options, time);
        _killSwitch = collaborators.KillSwitch;
        _approvals = collaborators.Approvals;
        _audit = collaborators.Audit;
        _metrics = collaborators.Metrics;
        _replayCache = collaborators.ReplayCache;
        _offers = collaborators.DelegationOffers;
        _delegationPolicy = collaborators.DelegationPolicy;
        _options = options;
        _time = time;
        _log = log;
    }

    /// <summary>
    /// Attests, decides and either issues a credential or opens (or collects) a step-up approval.
    /// <paramref name="approval"/> is set when the agent re-submits a request it was told needs approval.
    /// </summary>
    public async Task<RequestOutcome> RequestCredentialAsync(
        AttestationEvidence evidence, CredentialRequest request, ApprovalTicket? approval = null, CancellationToken cancellationToken = default)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            var outcome = await RequestCoreAsync(evidence, request, approval, cancellationToken).ConfigureAwait(false);
            _metrics.RequestCompleted(outcome.Granted is null ? "pending" : "issued");
            if (outcome.Granted is { } granted)
            {
                _metrics.Issued(Stopwatch.GetElapsedTime(started), granted.Lease.IssuerKind);
            }

            return outcome;
        }
        catch (BrokerException ex)
        {
            _metrics.RequestCompleted(ex.Failure.ToString().ToLowerInvariant());
            throw;
        }
    }

    private async Task<RequestOutcome> RequestCoreAsync(
        AttestationEvidence evidence, CredentialRequest request, ApprovalTicket? approval, CancellationToken cancellationToken)
    {
        // 1 attest: nothing about the request is looked at before we know who is asking.
        var agent = await BrokerTracing.TraceAsync(BrokerTracing.Attest, () => AttestAsync(evidence, cancellationToken)).ConfigureAwait(false);

        CredentialRequestValidator.Validate(request);
        if (request.RequestedTtl is { } wanted && wanted < _options.MinTtl)
        {
            throw new BrokerException(BrokerFailure.InvalidArgument, Reasons.RequestInvalid,
                $"requested_ttl must be at least {_options.MinTtl.TotalSeconds:0}s.");
        }

        if (request.CredentialKind.Length == 0)
        {
            request = request with { CredentialKind = _options.DefaultCredentialKind };
        }

        // 2 replay. In bound mode a token is bound to the task it was first used for: retries and one lease per
        // tool within that task are fine, a different task is a replay.
        await BrokerTracing.TraceAsync(BrokerTracing.Replay,
            () => _replay.CheckAsync(agent, RequestHash.ForTask(agent.Id, request.TaskId), cancellationToken).AsTask()).ConfigureAwait(false);

        // 3 kill switch.
        await BrokerTracing.TraceAsync(BrokerTracing.Block, () => EnsureNotBlockedAsync(agent, request.TaskId, cancellationToken)).ConfigureAwait(false);

        // 4 decide.
        PolicyDecision decision;
        using (var decideSpan = BrokerTracing.Step(BrokerTracing.Decide))
        {
            decision = _policy.Decide(agent, request);
            decideSpan?.SetTag("jitbroker.decision", decision.Effect.ToString().ToLowerInvariant());
        }

        switch (decision.Effect)
        {
            case DecisionEffect.Deny:
                LogDenied(_log, agent.Id, request.TaskId, request.Intent.Action, decision.RuleIds, decision.Reason);
                await AuditAsync(new AuditEvent
                {
                    Type = AuditEventTypes.RequestDenied, AgentId = agent.Id, TaskId = request.TaskId, Intent = request.Intent,
                    Decision = "deny", RuleIds = decision.RuleIds, Reason = Reasons.PolicyDenied, Detail = decision.Reason,
                }, cancellationToken).ConfigureAwait(false);
                throw new BrokerException(BrokerFailure.PermissionDenied, Reasons.PolicyDenied, decision.Reason);
            case DecisionEffect.NeedsApproval when approval is null:
                var pending = await _approvals.CreateAsync(agent, request, RequestHash.Of(agent.Id, request), decision, cancellationToken).ConfigureAwait(false);
                await AuditAsync(new AuditEvent
                {
                    Type = AuditEventTypes.ApprovalRequested, AgentId = agent.Id, TaskId = request.TaskId, Intent = request.Intent,
                    Decision = "needs-approval", RuleIds = decision.RuleIds, Detail = pending.ApprovalId,
                }, cancellationToken).ConfigureAwait(false);
                return RequestOutcome.Pending(pending);
            case DecisionEffect.NeedsApproval:
                var wait = approval.Wait > _options.MaxApprovalWait ? _options.MaxApprovalWait : approval.Wait;
                var collected = await _approvals.CollectAsync(approval.ApprovalId, agent, RequestHash.Of(agent.Id, request), wait, cancellationToken).ConfigureAwait(false);
                if (collected.State != ApprovalState.Consumed)
                {
                    return RequestOutcome.Pending(collected);
                }

                break;
        }

        var grant = decision.Grant ?? throw new InvalidOperationException("An allow decision must carry a grant.");
        var granted = await IssueAsync(agent, request.TaskId, request.Intent, grant, decision.RuleIds, parentLeaseId: null, delegation: null, cancellationToken).ConfigureAwait(false);
        return RequestOutcome.Issued(granted with { Decision = decision with { Grant = grant } });
    }

    /// <summary>Steps 5-7: mint, record before handing out, audit — undoing the credential if either of the last two fails.</summary>
    private async Task<CredentialGrantResult> IssueAsync(WorkloadIdentity agent, string taskId, TaskIntent intent, Grant grant,
        IReadOnlyList<string> ruleIds, string? parentLeaseId, DelegationChain? delegation, CancellationToken cancellationToken)
    {
        var ttl = grant.Ttl < _options.MaxTtl ? grant.Ttl : _options.MaxTtl;
        if (ttl < _options.MinTtl)
        {
            throw new BrokerException(BrokerFailure.PermissionDenied, Reasons.PolicyDenied,
                $"The granted lifetime ({ttl.TotalSeconds:0}s) is below the broker minimum.");
        }

        grant = grant with { Ttl = ttl };
        var issuer = _issuers.Get(grant.CredentialKind);
        // A delegated lease shares its parent's placement (a delegation tree stays in one ledger bucket); a root
        // lease takes its task's, so a task's leases stay together (docs/redis.md, "Redis Cluster").
        var leaseId = LeaseIds.New(parentLeaseId is null ? LeaseIds.PlacementFor(agent.Id, taskId) : LeaseIds.PlacementOf(parentLeaseId));
        var credential = await BrokerTracing.TraceAsync(BrokerTracing.Mint,
            () => issuer.IssueAsync(new IssueRequest(leaseId, agent, taskId, grant, delegation), cancellationToken).AsTask()).ConfigureAwait(false);
        var lease = new Lease
        {
            LeaseId = leaseId,
            TaskId = taskId,
            AgentId = agent.Id,
            ParentLeaseId = parentLeaseId,
            IssuerKind = issuer.Kind,
            BackendHandle = credential.BackendHandle,
            Scope = grant.Scope,
            IssuedAt = credential.IssuedAt,
            ExpiresAt = credential.ExpiresAt,
            DueAt = credential.ExpiresAt,
            RuleIds = ruleIds,
            CredentialFingerprint = credential.Fingerprint,
            AgentFacts = AgentFacts.From(agent),
        };

        // From here on the caller's cancellation is not honoured: a half-done persist must end either
        // recorded or undone, never in between.
        await BrokerTracing.TraceAsync(BrokerTracing.Record, () => PersistOrUndoAsync(issuer, lease)).ConfigureAwait(false);

        // Kill switch, second look: a block stored while this request was minting either shows up here, or
        // came after the lease was recorded and the block's own sweep revokes it. Either way no live
        // credential leaves the broker once BlockAgent has returned.
        if (await _killSwitch.FindBlockAsync(agent.Id, _time.GetUtcNow(), CancellationToken.None).ConfigureAwait(false) is { } block)
        {
            await RevokeUnauditedAsync(lease).ConfigureAwait(false);
            throw new BrokerException(BrokerFailure.PermissionDenied, Reasons.AgentBlocked, $"This agent is blocked by an operator: {block.Reason}");
        }

        using var auditSpan = BrokerTracing.Step(BrokerTracing.Audit);
        try
        {
            await _audit.AppendAsync(new AuditEvent
            {
                Type = delegation is null ? AuditEventTypes.CredentialIssued : AuditEventTypes.CredentialDelegated,
                AgentId = agent.Id, TaskId = taskId, Intent = intent, Decision = "allow",
                RuleIds = ruleIds, LeaseId = leaseId, ParentLeaseId = parentLeaseId, CredentialFingerprint = credential.Fingerprint,
                Detail = delegation is null
                    ? $"{issuer.Kind} for {grant.Scope.Audience}, expires {lease.ExpiresAt:O}"
                    : $"{issuer.Kind} for {grant.Scope.Audience}, expires {lease.ExpiresAt:O}; subject {delegation.Subject}, actors {string.Join(" <- ", delegation.Actors)}",
            }, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception auditError)
        {
            // Fail closed: a credential the audit record does not show must not leave the broker.
            LogAuditFailed(_log, leaseId, auditError);
            BrokerTracing.Fail(auditSpan, Reasons.Audit.Unavailable);
            await RevokeUnauditedAsync(lease).ConfigureAwait(false);
            throw new BrokerException(BrokerFailure.Unavailable, Reasons.Audit.Unavailable,
                "The audit record could not be written; no credential was issued. Retry later.", auditError);
        }

        LogIssued(_log, lease.LeaseId, agent.Id, taskId, grant.Scope.Audience, credential.Fingerprint, lease.ExpiresAt);
        return new CredentialGrantResult(lease, credential, new PolicyDecision(DecisionEffect.Allow, grant, ruleIds, "")) { Delegation = delegation };
    }

    private async Task<WorkloadIdentity> AttestAsync(AttestationEvidence evidence, CancellationToken cancellationToken)
    {
        try
        {
            return await _attestors.AttestAsync(evidence, cancellationToken).ConfigureAwait(false);
        }
        catch (BrokerException ex)
        {
            _metrics.AttestationFailed(ex.Reason);
            await AuditAsync(new AuditEvent
            {
                Type = AuditEventTypes.AttestationFailed, Reason = ex.Reason,
                CredentialFingerprint = evidence.BearerToken is { } token ? Fingerprints.Of(token) : null,
            }, cancellationToken).ConfigureAwait(false);
            throw;
        }
    }

    private async Task EnsureNotBlockedAsync(WorkloadIdentity agent, string? taskId, CancellationToken cancellationToken)
    {
        if (await _killSwitch.FindBlockAsync(agent.Id, _time.GetUtcNow(), cancellationToken).ConfigureAwait(false) is { } block)
        {
            await AuditAsync(new AuditEvent
            {
                Type = AuditEventTypes.RequestDenied, AgentId = agent.Id, TaskId = taskId, Decision = "deny",
                Reason = Reasons.AgentBlocked, Detail = $"blocked by {block.BlockedBy} ({block.Pattern}): {block.Reason}",
            }, cancellationToken).ConfigureAwait(false);
            throw new BrokerException(BrokerFailure.PermissionDenied, Reasons.AgentBlocked,
                $"This agent is blocked by an operator: {block.Reason}");
        }
    }

    /// <summary>Audit for events that are not issuance: a failure to record them is logged, not turned into a different answer.</summary>
    private async Task AuditAsync(AuditEvent auditEvent, CancellationToken cancellationToken)
    {
        try
        {
            await _audit.AppendAsync(auditEvent, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogAuditEventLost(_log, auditEvent.Type, ex);
        }
    }

    private async Task PersistOrUndoAsync(ICredentialIssuer issuer, Lease lease)
    {
        try
        {
            await _leases.PutAsync(lease, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception persistError)
        {
            // A credential the broker does not track must never exist: undo it at its source.
            LogPersistFailed(_log, lease.LeaseId, lease.IssuerKind, persistError);
            try
            {
                var undo = await issuer.RevokeAsync(lease, CancellationToken.None).ConfigureAwait(false);
                if (!undo.IsDone)
                {
                    LogUndoFailed(_log, lease.LeaseId, lease.IssuerKind, lease.CredentialFingerprint, undo.Error ?? "unknown", null);
                }
            }
            catch (Exception undoError)
            {
                LogUndoFailed(_log, lease.LeaseId, lease.IssuerKind, lease.CredentialFingerprint, "the issuer threw", undoError);
            }

            // A refusal the ledger made on purpose (the parent was revoked meanwhile) is the answer; anything else
            // means the ledger could not be reached.
            throw persistError is BrokerException { Failure: not BrokerFailure.Unavailable } refusal
                ? refusal
                : new BrokerException(BrokerFailure.Unavailable, Reasons.LeaseStoreUnavailable,
                    "The lease could not be recorded; no credential was issued. Retry later.", persistError);
        }
    }

    /// <summary>The lease is recorded but the audit is not: revoke through the normal path so failures stay scheduled.</summary>
    private async Task RevokeUnauditedAsync(Lease lease)
    {
        try
        {
            if (await _leases.TryClaimAsync(lease.LeaseId, _time.GetUtcNow(), _options.RevocationClaimTimeout, CancellationToken.None).ConfigureAwait(false) is { } claimed)
            {
                await _revoker.RevokeClaimedAsync(claimed, cancellationToken: CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            // The lease stays in the schedule and expires; the sweeper revokes it then.
            LogPersistFailed(_log, lease.LeaseId, lease.IssuerKind, ex);
        }
    }
}
