namespace JitBroker.Core.Handlers;

/// <summary>
/// Revokes leases now, in the caller's call: claims each, then revokes the claimed ones through
/// <see cref="LeaseRevoker.RevokeClaimedManyAsync"/> — the code the sweepers run for expiry and for every revocation
/// an operator schedules — with bounded parallelism. EndTask uses it for a task and everything delegated from it;
/// the commit step uses it to undo a credential it must not hand out. The in-broker walk down a delegation tree
/// lives here and nowhere else (the ledger cascades scheduled revocations itself, see <see cref="IRevocationSchedule"/>).
/// </summary>
public sealed class LeaseTermination
{
    /// <summary>Revocations in flight at once for one call (the sweeper's group size).</summary>
    public const int MaxParallelRevocations = 64;

    private readonly ILeaseLedger _ledger;
    private readonly IRevocationQueue _queue;
    private readonly LeaseRevoker _revoker;
    private readonly BrokerOptions _options;
    private readonly TimeProvider _time;

    public LeaseTermination(ILeaseLedger ledger, IRevocationQueue queue, LeaseRevoker revoker, BrokerOptions options, TimeProvider time)
    {
        _ledger = ledger;
        _queue = queue;
        _revoker = revoker;
        _options = options;
        _time = time;
    }

    /// <summary>
    /// Revokes <paramref name="roots"/> and every lease delegated from them at any depth. One outcome per lease: the
    /// roots in order, then their descendants breadth first. A failed revocation stays scheduled and is retried.
    /// </summary>
    public async Task<IReadOnlyList<LeaseRevocationOutcome>> RevokeWithDescendantsAsync(IReadOnlyList<Lease> roots,
        CancellationToken cancellationToken = default) =>
        await RevokeAsync(await WithDescendantsAsync(roots, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);

    /// <summary>Revokes exactly these leases; one outcome per lease, in order. Throws only when the ledger cannot be reached.</summary>
    public async Task<IReadOnlyList<LeaseRevocationOutcome>> RevokeAsync(IReadOnlyList<Lease> leases, CancellationToken cancellationToken = default)
    {
        var now = _time.GetUtcNow();
        // A claim makes this call the lease's only revoker until the claim lapses; a lease someone else already
        // revoked (or is revoking) yields no claim and needs nothing from us.
        var claims = await Task.WhenAll(leases.Select(l => l.State == LeaseState.Revoked
            ? Task.FromResult<Lease?>(null)
            : _queue.TryClaimAsync(l.LeaseId, now, _options.RevocationClaimTimeout, cancellationToken))).ConfigureAwait(false);
        var claimed = claims.OfType<Lease>().ToList();
        var results = claimed.Count == 0
            ? []
            : await _revoker.RevokeClaimedManyAsync(claimed, MaxParallelRevocations, waitForAudit: true, cancellationToken).ConfigureAwait(false);
        var byId = new Dictionary<string, RevocationResult>(StringComparer.Ordinal);
        for (var i = 0; i < claimed.Count; i++)
        {
            byId[claimed[i].LeaseId] = results[i];
        }

        return [.. leases.Select(l => byId.TryGetValue(l.LeaseId, out var result)
            ? new LeaseRevocationOutcome(l.LeaseId, result.IsDone ? LeaseOutcomeKind.Revoked : LeaseOutcomeKind.Failed, result.IsDone ? null : result.Error)
            : new LeaseRevocationOutcome(l.LeaseId, LeaseOutcomeKind.AlreadyRevoked, null))];
    }

    /// <summary>
    /// The leases plus every lease delegated from them, breadth first, each once. One generation's child lookups are
    /// issued together, so a pipelined store answers a whole level in one round trip.
    /// </summary>
    private async Task<IReadOnlyList<Lease>> WithDescendantsAsync(IReadOnlyList<Lease> roots, CancellationToken cancellationToken)
    {
        var seen = new HashSet<string>(roots.Select(l => l.LeaseId), StringComparer.Ordinal);
        var all = new List<Lease>(roots);
        IReadOnlyList<Lease> level = roots;
        while (level.Count > 0)
        {
            var children = await Task.WhenAll(level.Select(p => _ledger.ListChildrenAsync(p.LeaseId, cancellationToken))).ConfigureAwait(false);
            var next = children.SelectMany(c => c).Where(c => seen.Add(c.LeaseId)).ToList();
            all.AddRange(next);
            level = next;
        }

        return all;
    }
}
