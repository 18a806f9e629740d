namespace JitBroker.Core;

/// <summary>RenewCredential: extend a live lease within its original maximum, re-evaluating policy.</summary>
public sealed partial class CredentialBroker
{

    public async Task<RenewalResult> RenewCredentialAsync(
        AttestationEvidence evidence, string leaseId, TimeSpan? requestedTtl, CancellationToken cancellationToken = default)
    {
        var agent = await AttestAsync(evidence, cancellationToken).ConfigureAwait(false);
        if (!LeaseIds.IsWellFormed(leaseId))
        {
            throw new BrokerException(BrokerFailure.InvalidArgument, Reasons.RequestInvalid, "lease_id is not a lease id.");
        }

        var lease = await _leases.GetAsync(leaseId, cancellationToken).ConfigureAwait(false);
        // Someone else's lease is indistinguishable from an unknown one.
        if (lease is null || !string.Equals(lease.AgentId, agent.Id, StringComparison.Ordinal))
        {
            throw new BrokerException(BrokerFailure.NotFound, Reasons.LeaseNotFound, "No such lease held by the calling agent.");
        }

        var now = _time.GetUtcNow();
        if (!await IsUsableAsync(lease, now, cancellationToken).ConfigureAwait(false))
        {
            // Blocked agents get the blocked answer (and its audit record); a revoked ancestor makes it not active.
            await EnsureNotBlockedAsync(agent, lease.TaskId, cancellationToken).ConfigureAwait(false);
            throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.LeaseNotActive, "The lease is no longer active; request a new credential.");
        }

        await EnsureNotBlockedAsync(agent, lease.TaskId, cancellationToken).ConfigureAwait(false);

        // Policy is asked again, today, with the current identity: a renewal never outlives a rule change.
        var request = new CredentialRequest(lease.TaskId,
            new TaskIntent(lease.Scope.Action, "", lease.Scope.Tools, lease.Scope.Resources, new Dictionary<string, string>()),
            lease.IssuerKind, lease.Scope.Audience, null);
        var decision = _policy.Decide(agent, request);
        if (decision.Effect != DecisionEffect.Allow || decision.Grant is not { } grant || !Covers(grant.Scope, lease.Scope))
        {
            var reason = decision.Effect == DecisionEffect.NeedsApproval
                ? "The credential now needs approval; request a new one."
                : "Policy no longer grants this credential: " + decision.Reason;
            throw new BrokerException(BrokerFailure.PermissionDenied, Reasons.PolicyDenied, reason);
        }

        // The original maximum: issue time + the rule's (and the broker's) longest lifetime.
        var ruleMax = grant.Ttl < _options.MaxTtl ? grant.Ttl : _options.MaxTtl;
        var cap = lease.IssuedAt + ruleMax;
        var wanted = now + (requestedTtl ?? ruleMax);
        var newExpiry = wanted < cap ? wanted : cap;
        // Issuers grant whole seconds from a whole-second iat, so a lease renewed "to the cap" ends exactly one
        // second short of it; a second or less more is no renewal at all.
        if (newExpiry - lease.ExpiresAt <= TimeSpan.FromSeconds(1))
        {
            throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.RenewalMaxTtlReached,
                $"The lease already runs to its maximum ({cap:O}); request a new credential.");
        }

        var issuer = _issuers.Get(lease.IssuerKind);
        var renewed = await issuer.RenewAsync(lease, agent, newExpiry, cancellationToken).ConfigureAwait(false);
        var updated = await _leases.RenewAsync(lease.LeaseId, renewed.ExpiresAt, renewed.Fingerprint ?? lease.CredentialFingerprint, CancellationToken.None).ConfigureAwait(false)
            ?? throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.LeaseNotActive, "The lease was revoked while it was being renewed.");
        await AuditAsync(new AuditEvent
        {
            Type = AuditEventTypes.CredentialRenewed, AgentId = agent.Id, TaskId = lease.TaskId, LeaseId = lease.LeaseId,
            RuleIds = decision.RuleIds, CredentialFingerprint = updated.CredentialFingerprint, Detail = $"expires {updated.ExpiresAt:O}",
        }, cancellationToken).ConfigureAwait(false);
        return new RenewalResult(updated, renewed.NewSecret);
    }

    /// <summary>True when <paramref name="allowed"/> still includes everything <paramref name="held"/> grants.</summary>
    internal static bool Covers(GrantedScope allowed, GrantedScope held) =>
        string.Equals(allowed.Audience, held.Audience, StringComparison.Ordinal) &&
        string.Equals(allowed.Action, held.Action, StringComparison.Ordinal) &&
        held.Tools.All(t => allowed.Tools.Contains(t, StringComparer.Ordinal)) &&
        held.Resources.All(r => allowed.Resources.Contains(r, StringComparer.Ordinal));
}
