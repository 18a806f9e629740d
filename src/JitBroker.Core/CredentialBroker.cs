using Microsoft.Extensions.Logging;

namespace JitBroker.Core;

/// <summary>
/// The request path of DESIGN.md, step by step: attest → decide → mint → record → return. Transports call
/// this and only map messages; everything that makes a decision happens here or in a component it calls.
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
    private readonly BrokerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<CredentialBroker> _log;

    public CredentialBroker(
        AttestorRegistry attestors,
        IPolicyEngine policy,
        IssuerRegistry issuers,
        ILeaseStore leases,
        LeaseRevoker revoker,
        IEnumerable<ITaskCredentialVerifier> verifiers,
        BrokerOptions options,
        TimeProvider time,
        ILogger<CredentialBroker> log)
    {
        _attestors = attestors;
        _policy = policy;
        _issuers = issuers;
        _leases = leases;
        _revoker = revoker;
        _verifiers = [.. verifiers];
        _options = options;
        _time = time;
        _log = log;
    }

    public async Task<CredentialGrantResult> RequestCredentialAsync(
        AttestationEvidence evidence, CredentialRequest request, CancellationToken cancellationToken = default)
    {
        // 1 attest: nothing about the request is looked at before we know who is asking.
        var agent = await _attestors.AttestAsync(evidence, cancellationToken).ConfigureAwait(false);

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

        // 4 decide.
        var decision = _policy.Decide(agent, request);
        switch (decision.Effect)
        {
            case DecisionEffect.Deny:
                LogDenied(_log, agent.Id, request.TaskId, request.Intent.Action, decision.RuleIds, decision.Reason);
                throw new BrokerException(BrokerFailure.PermissionDenied, Reasons.PolicyDenied, decision.Reason);
            case DecisionEffect.NeedsApproval:
                throw new BrokerException(BrokerFailure.PermissionDenied, Reasons.PolicyApprovalRequired, decision.Reason);
        }

        var grant = decision.Grant ?? throw new InvalidOperationException("An allow decision must carry a grant.");
        var ttl = Min(grant.Ttl, _options.MaxTtl);
        if (ttl < _options.MinTtl)
        {
            throw new BrokerException(BrokerFailure.PermissionDenied, Reasons.PolicyDenied,
                $"The granted lifetime ({ttl.TotalSeconds:0}s) is below the broker minimum.");
        }

        grant = grant with { Ttl = ttl };

        // 5 mint.
        var issuer = _issuers.Get(grant.CredentialKind);
        var leaseId = LeaseIds.New();
        var credential = await issuer.IssueAsync(new IssueRequest(leaseId, agent, request.TaskId, grant), cancellationToken).ConfigureAwait(false);

        var lease = new Lease
        {
            LeaseId = leaseId,
            TaskId = request.TaskId,
            AgentId = agent.Id,
            IssuerKind = issuer.Kind,
            BackendHandle = credential.BackendHandle,
            Scope = grant.Scope,
            IssuedAt = credential.IssuedAt,
            ExpiresAt = credential.ExpiresAt,
            DueAt = credential.ExpiresAt,
            RuleIds = decision.RuleIds,
            CredentialFingerprint = credential.Fingerprint,
        };

        // 6 record — before the credential leaves the broker. From here on the caller's cancellation is
        // not honoured: a half-done persist must end either recorded or undone, never in between.
        await PersistOrUndoAsync(issuer, lease).ConfigureAwait(false);

        LogIssued(_log, lease.LeaseId, agent.Id, request.TaskId, grant.Scope.Audience, credential.Fingerprint, lease.ExpiresAt);
        return new CredentialGrantResult(lease, credential, decision with { Grant = grant });
    }

    public async Task<EndTaskResult> EndTaskAsync(
        AttestationEvidence evidence, string taskId, CancellationToken cancellationToken = default)
    {
        var agent = await _attestors.AttestAsync(evidence, cancellationToken).ConfigureAwait(false);
        CredentialRequestValidator.RequireTaskId(taskId);

        // Only the calling agent's leases: one agent can never end another agent's task.
        var leases = await _leases.ListByTaskAsync(agent.Id, taskId, cancellationToken).ConfigureAwait(false);
        if (leases.Count == 0)
        {
            throw new BrokerException(BrokerFailure.NotFound, Reasons.TaskNotFound, $"No leases for task '{taskId}' held by the calling agent.");
        }

        var outcomes = await Task.WhenAll(leases.Select(l => RevokeNowAsync(l, cancellationToken))).ConfigureAwait(false);
        LogTaskEnded(_log, taskId, agent.Id, outcomes.Length);
        return new EndTaskResult(taskId, outcomes);
    }

    public async Task<IntrospectionResult> IntrospectAsync(
        AttestationEvidence evidence, string token, CancellationToken cancellationToken = default)
    {
        // RFC 7662 §2.1: the endpoint must not be an open token-scanning oracle, so callers attest too.
        await _attestors.AttestAsync(evidence, cancellationToken).ConfigureAwait(false);
        if (string.IsNullOrEmpty(token) || token.Length > MaxIntrospectedTokenLength)
        {
            return IntrospectionResult.Inactive;
        }

        foreach (var verifier in _verifiers)
        {
            var claims = verifier.Verify(token);
            if (claims is null)
            {
                continue;
            }

            var lease = await _leases.GetAsync(claims.LeaseId, cancellationToken).ConfigureAwait(false);
            var now = _time.GetUtcNow();
            var active = lease is not null
                && lease.IsLiveAt(now)
                && now < claims.ExpiresAt
                && string.Equals(lease.CredentialFingerprint, Fingerprints.Of(token), StringComparison.Ordinal);
            return active ? new IntrospectionResult(true, claims, verifier.Kind) : IntrospectionResult.Inactive;
        }

        return IntrospectionResult.Inactive;
    }

    private async Task<LeaseRevocationOutcome> RevokeNowAsync(Lease lease, CancellationToken cancellationToken)
    {
        if (lease.State == LeaseState.Revoked)
        {
            return new LeaseRevocationOutcome(lease.LeaseId, LeaseOutcomeKind.AlreadyRevoked, null);
        }

        var claimed = await _leases.TryClaimAsync(lease.LeaseId, _time.GetUtcNow(), _options.RevocationClaimTimeout, cancellationToken).ConfigureAwait(false);
        if (claimed is null)
        {
            return new LeaseRevocationOutcome(lease.LeaseId, LeaseOutcomeKind.AlreadyRevoked, null);
        }

        var result = await _revoker.RevokeClaimedAsync(claimed, cancellationToken).ConfigureAwait(false);
        return result.IsDone
            ? new LeaseRevocationOutcome(lease.LeaseId, LeaseOutcomeKind.Revoked, null)
            : new LeaseRevocationOutcome(lease.LeaseId, LeaseOutcomeKind.Failed, result.Error);
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
                    LogUndoFailed(_log, lease.LeaseId, lease.IssuerKind, lease.CredentialFingerprint, undo.Error ?? "unknown");
                }
            }
            catch (Exception undoError)
            {
                LogUndoFailed(_log, lease.LeaseId, lease.IssuerKind, lease.CredentialFingerprint, undoError.GetType().Name);
            }

            throw new BrokerException(BrokerFailure.Unavailable, Reasons.LeaseStoreUnavailable,
                "The lease could not be recorded; no credential was issued. Retry later.", persistError);
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    [LoggerMessage(EventId = 1001, EventName = "CredentialIssued", Level = LogLevel.Information,
        Message = "Issued lease {LeaseId} to {AgentId} for task {TaskId}, audience {Audience}, credential {Fingerprint}, expires {ExpiresAt:O}")]
    private static partial void LogIssued(ILogger logger, string leaseId, string agentId, string taskId, string audience, string fingerprint, DateTimeOffset expiresAt);

    [LoggerMessage(EventId = 1002, EventName = "RequestDenied", Level = LogLevel.Information,
        Message = "Denied {AgentId} task {TaskId} action {Action} (rules {RuleIds}): {Reason}")]
    private static partial void LogDenied(ILogger logger, string agentId, string taskId, string action, IReadOnlyList<string> ruleIds, string reason);

    [LoggerMessage(EventId = 1003, EventName = "TaskEnded", Level = LogLevel.Information,
        Message = "Task {TaskId} of {AgentId} ended; {LeaseCount} lease(s) processed")]
    private static partial void LogTaskEnded(ILogger logger, string taskId, string agentId, int leaseCount);

    [LoggerMessage(EventId = 1004, EventName = "LeasePersistFailed", Level = LogLevel.Error,
        Message = "Recording lease {LeaseId} ({IssuerKind}) failed; undoing the minted credential")]
    private static partial void LogPersistFailed(ILogger logger, string leaseId, string issuerKind, Exception exception);

    [LoggerMessage(EventId = 1005, EventName = "UndoFailed", Level = LogLevel.Critical,
        Message = "Could not undo untracked credential {Fingerprint} of lease {LeaseId} ({IssuerKind}): {Error}")]
    private static partial void LogUndoFailed(ILogger logger, string leaseId, string issuerKind, string fingerprint, string error);
}
