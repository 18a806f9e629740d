namespace JitBroker.Core.Handlers;

/// <summary>
/// Revokes leases now, in the caller's call: claims each, then revokes the claimed ones through
/// <see cref="LeaseRevoker.RevokeClaimedManyAsync"/> — the code the sweepers run for expiry and for every revocation
/// an operator schedules — with bounded parallelism. EndTask uses it for a task and everything delegated from it;
/// the commit step uses it to undo a credential it must not hand out. The walk down a delegation tree is the ledger's
/// (<see cref="IRevocationQueue.ClaimWithDescendantsAsync"/>), as it is for scheduled revocations (<see cref="IRevocationSchedule"/>).
/// </summary>
public sealed class LeaseTermination
{
    /// <summary>Revocations in flight at once for one call (the sweeper's group size).</summary>
    public const int MaxParallelRevocations = 64;

    private readonly IRevocationQueue _queue;
    private readonly LeaseRevoker _revoker;
    private readonly BrokerOptions _options;
    private readonly TimeProvider _time;

    public LeaseTermination(IRevocationQueue queue, LeaseRevoker revoker, BrokerOptions options, TimeProvider time)
    {
        _queue = queue;
        _revoker = revoker;
        _options = options;
        _time = time;
    }

    /// <summary>
    /// Revokes <paramref name="roots"/> and every lease delegated from them at any depth. One outcome per lease: the
    /// roots in order, then their descendants breadth first. A failed revocation stays scheduled and is retried.
    /// </summary>
    /// <remarks>
    /// The whole tree is claimed in one ledger call (one script per bucket on Redis) instead of a child lookup per lease
    /// and level and a claim per lease: EndTask of ten leases went from 23 scripts to 3 (docs/benchmarks.md).
    /// </remarks>
    public async Task<IReadOnlyList<LeaseRevocationOutcome>> RevokeWithDescendantsAsync(IReadOnlyList<Lease> roots,
        CancellationToken cancellationToken = default)
    {
        var tree = await _queue.ClaimWithDescendantsAsync([.. roots.Select(l => l.LeaseId)], _time.GetUtcNow(), _options.RevocationClaimTimeout,
            cancellationToken).ConfigureAwait(false);
        return await RevokeClaimedAsync(tree, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Revokes exactly these leases; one outcome per lease, in order. Throws only when the ledger cannot be reached.</summary>
    public async Task<IReadOnlyList<LeaseRevocationOutcome>> RevokeAsync(IReadOnlyList<Lease> leases, CancellationToken cancellationToken = default)
    {
        var now = _time.GetUtcNow();
        // A claim makes this call the lease's only revoker until the claim lapses; a lease someone else already
        // revoked (or is revoking) yields no claim and needs nothing from us.
        var claims = await Task.WhenAll(leases.Select(l => l.State == LeaseState.Revoked
            ? Task.FromResult<Lease?>(null)
            : _queue.TryClaimAsync(l.LeaseId, now, _options.RevocationClaimTimeout, cancellationToken))).ConfigureAwait(false);
        return await RevokeClaimedAsync([.. leases.Select((l, i) => new TreeClaim(l.LeaseId, claims[i]))], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Revokes the claimed leases together; one outcome per entry, in order (no claim: already revoked).</summary>
    private async Task<IReadOnlyList<LeaseRevocationOutcome>> RevokeClaimedAsync(IReadOnlyList<TreeClaim> claims, CancellationToken cancellationToken)
    {
        var claimed = claims.Select(c => c.Claimed).OfType<Lease>().ToList();
        var results = claimed.Count == 0
            ? []
            : await _revoker.RevokeClaimedManyAsync(claimed, MaxParallelRevocations, waitForAudit: true, cancellationToken).ConfigureAwait(false);
        var byId = new Dictionary<string, RevocationResult>(StringComparer.Ordinal);
        for (var i = 0; i < claimed.Count; i++)
        {
            byId[claimed[i].LeaseId] = results[i];
        }

        return [.. claims.Select(c => byId.TryGetValue(c.LeaseId, out var result)
            ? new LeaseRevocationOutcome(c.LeaseId, result.IsDone ? LeaseOutcomeKind.Revoked : LeaseOutcomeKind.Failed, result.IsDone ? null : result.Error)
            : new LeaseRevocationOutcome(c.LeaseId, LeaseOutcomeKind.AlreadyRevoked, null))];
    }
}
