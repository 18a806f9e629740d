namespace JitBroker.Core;

/// <summary>EndTask and introspection.</summary>
public sealed partial class CredentialBroker
{
    public async Task<EndTaskResult> EndTaskAsync(
        AttestationEvidence evidence, string taskId, CancellationToken cancellationToken = default)
    {
        var agent = await AttestAsync(evidence, cancellationToken).ConfigureAwait(false);
        CredentialRequestValidator.RequireTaskId(taskId);

        // Only the calling agent's leases: one agent can never end another agent's task.
        var leases = await _leases.ListByTaskAsync(agent.Id, taskId, cancellationToken).ConfigureAwait(false);
        if (leases.Count == 0)
        {
            throw new BrokerException(BrokerFailure.NotFound, Reasons.TaskNotFound, $"No leases for task '{taskId}' held by the calling agent.");
        }

        // Delegated descendants (any depth) die with their parents, in this same call.
        var all = await WithDescendantsAsync(leases, cancellationToken).ConfigureAwait(false);
        var outcomes = await Task.WhenAll(all.Select(l => RevokeNowAsync(l, cancellationToken))).ConfigureAwait(false);
        await AuditAsync(new AuditEvent
        {
            Type = AuditEventTypes.TaskEnded, AgentId = agent.Id, TaskId = taskId,
            Detail = $"{outcomes.Count(o => o.Outcome == LeaseOutcomeKind.Revoked)} revoked, {outcomes.Count(o => o.Outcome == LeaseOutcomeKind.Failed)} failed, {outcomes.Count(o => o.Outcome == LeaseOutcomeKind.AlreadyRevoked)} already revoked",
        }, cancellationToken).ConfigureAwait(false);
        LogTaskEnded(_log, taskId, agent.Id, outcomes.Length);
        return new EndTaskResult(taskId, outcomes);
    }

    public async Task<IntrospectionResult> IntrospectAsync(
        AttestationEvidence evidence, string token, CancellationToken cancellationToken = default)
    {
        // RFC 7662 §2.1: the endpoint must not be an open token-scanning oracle, so callers attest too.
        await AttestAsync(evidence, cancellationToken).ConfigureAwait(false);
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
                && now < claims.ExpiresAt
                && string.Equals(lease.CredentialFingerprint, Fingerprints.Of(token), StringComparison.Ordinal)
                && await IsUsableAsync(lease, now, cancellationToken).ConfigureAwait(false);
            return active ? new IntrospectionResult(true, claims, verifier.Kind) : IntrospectionResult.Inactive;
        }

        return IntrospectionResult.Inactive;
    }

    /// <summary>
    /// Whether a lease's credential may still be used: it is live, no block applies to its agent, and the same holds
    /// for every lease up its delegation chain. Asked by introspection, renewal and delegation, so a block or a
    /// parent's revocation makes a credential unusable the moment it is recorded — before the sweepers have revoked
    /// anything at its backend.
    /// </summary>
    internal async Task<bool> IsUsableAsync(Lease lease, DateTimeOffset now, CancellationToken cancellationToken)
    {
        for (var (current, depth) = (lease, 0); ; depth++)
        {
            if (!current.IsLiveAt(now) || await _killSwitch.FindBlockAsync(current.AgentId, now, cancellationToken).ConfigureAwait(false) is not null)
            {
                return false;
            }

            if (current.ParentLeaseId is not { } parentId)
            {
                return true;
            }

            // A parent that is gone (forgotten after its revocation) or a chain longer than any delegation can make is not usable.
            if (depth >= MaxChainWalk || await _leases.GetAsync(parentId, cancellationToken).ConfigureAwait(false) is not { } parent)
            {
                return false;
            }

            current = parent;
        }
    }

    /// <summary>
    /// The leases plus every lease delegated from them, breadth first, each once. One generation's child
    /// lookups are issued together, so a pipelined store answers a whole level in one round trip.
    /// </summary>
    internal async Task<IReadOnlyList<Lease>> WithDescendantsAsync(IReadOnlyList<Lease> roots, CancellationToken cancellationToken)
    {
        var seen = new HashSet<string>(roots.Select(l => l.LeaseId), StringComparer.Ordinal);
        var all = new List<Lease>(roots);
        IReadOnlyList<Lease> level = roots;
        while (level.Count > 0)
        {
            var children = await Task.WhenAll(level.Select(p => _leases.ListChildrenAsync(p.LeaseId, cancellationToken))).ConfigureAwait(false);
            var next = children.SelectMany(c => c).Where(c => seen.Add(c.LeaseId)).ToList();
            all.AddRange(next);
            level = next;
        }

        return all;
    }

    internal async Task<LeaseRevocationOutcome> RevokeNowAsync(Lease lease, CancellationToken cancellationToken)
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

        var result = await _revoker.RevokeClaimedAsync(claimed, cancellationToken: cancellationToken).ConfigureAwait(false);
        return result.IsDone
            ? new LeaseRevocationOutcome(lease.LeaseId, LeaseOutcomeKind.Revoked, null)
            : new LeaseRevocationOutcome(lease.LeaseId, LeaseOutcomeKind.Failed, result.Error);
    }
}
