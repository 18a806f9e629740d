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
    private readonly BestEffortAudit _audit;
    private readonly BrokerOptions _options;
    private readonly TimeProvider _time;

    /// <param name="audit">Where a caller's summary record goes when the revoker writes no records to put it with.</param>
    public LeaseTermination(IRevocationQueue queue, LeaseRevoker revoker, BestEffortAudit audit, BrokerOptions options, TimeProvider time)
    {
        _queue = queue;
        _revoker = revoker;
        _audit = audit;
        _options = options;
        _time = time;
    }

    /// <summary>
    /// Revokes <paramref name="roots"/> and every lease delegated from them at any depth. One outcome per lease: the
    /// roots in order, then their descendants breadth first. A failed revocation stays scheduled and is retried. Returns
    /// once the ledger has every outcome; the caller must wait for <see cref="RevokedTree.Recorded"/> (the lease.revoked
    /// records, then the <paramref name="summary"/> record made from <see cref="RevokedTree.Summary"/>'s text when there is
    /// an outcome) before it answers. The records and the summary are one append: one group commit stores them all.
    /// </summary>
    /// <remarks>
    /// The whole tree is claimed in one ledger call (one script per bucket on Redis) instead of a child lookup per lease
    /// and level and a claim per lease: EndTask of ten leases went from 23 scripts to 3 (docs/benchmarks.md), and to 2 with
    /// <see cref="RevokeTaskAsync"/>, which folds the task's listing into the claim.
    /// </remarks>
    public async Task<RevokedTree> RevokeWithDescendantsAsync(IReadOnlyList<Lease> roots, Func<string, AuditEvent>? summary = null,
        CancellationToken cancellationToken = default)
    {
        var tree = await _queue.ClaimWithDescendantsAsync([.. roots.Select(l => l.LeaseId)], _time.GetUtcNow(), _options.RevocationClaimTimeout,
            cancellationToken).ConfigureAwait(false);
        return await RevokeClaimedAsync(tree, summary, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// <see cref="RevokeWithDescendantsAsync"/> for every lease <paramref name="agentId"/> holds for the task (EndTask): the
    /// listing and the claim are one ledger call (<see cref="IRevocationQueue.ClaimTaskAsync"/>). No outcomes when the agent
    /// holds no lease for the task.
    /// </summary>
    /// <remarks>
    /// Leases whose issuer's revocation is the ledger's mark (JWTs) are revoked by the ledger in that same call
    /// (<see cref="LeaseRevoker.LedgerRevocation"/>) rather than claimed and then marked: a task of JWT leases ends in one
    /// ledger round trip instead of two.
    /// </remarks>
    public async Task<RevokedTree> RevokeTaskAsync(string agentId, string taskId, Func<string, AuditEvent>? summary = null,
        CancellationToken cancellationToken = default)
    {
        var tree = await _queue.ClaimTaskAsync(agentId, taskId, _time.GetUtcNow(), _options.RevocationClaimTimeout, _revoker.LedgerRevocation,
            cancellationToken).ConfigureAwait(false);
        return await RevokeClaimedAsync(tree, summary, cancellationToken).ConfigureAwait(false);
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
        var revoked = await RevokeClaimedAsync([.. leases.Select((l, i) => new TreeClaim(l.LeaseId, claims[i]))], null, cancellationToken).ConfigureAwait(false);
        await revoked.Recorded.ConfigureAwait(false);
        return revoked.Outcomes;
    }

    /// <summary>
    /// Revokes the claimed leases together; one outcome per entry, in order (no claim: already revoked). Entries the ledger
    /// revoked in its claim step are revoked already and only recorded. Every <c>lease.revoked</c> record, then the summary,
    /// is written as one append.
    /// </summary>
    private async Task<RevokedTree> RevokeClaimedAsync(IReadOnlyList<TreeClaim> claims, Func<string, AuditEvent>? summary, CancellationToken cancellationToken)
    {
        var claimed = claims.Where(c => !c.RevokedInStep).Select(c => c.Claimed).OfType<Lease>().ToList();
        var revokedInStep = claims.Where(c => c.RevokedInStep).Select(c => c.Claimed).OfType<Lease>().ToList();
        var records = new RevocationRecords();
        var revoked = claimed.Count == 0
            ? new ClaimedRevocations([], Task.CompletedTask)
            : await _revoker.BeginRevokeClaimedManyAsync(claimed, MaxParallelRevocations, records, cancellationToken).ConfigureAwait(false);
        _revoker.NoteRevokedInLedger(revokedInStep, records);
        var results = revoked.Results;
        var byId = new Dictionary<string, RevocationResult>(StringComparer.Ordinal);
        for (var i = 0; i < claimed.Count; i++)
        {
            byId[claimed[i].LeaseId] = results[i];
        }

        foreach (var lease in revokedInStep)
        {
            byId[lease.LeaseId] = RevocationResult.Revoked;
        }

        List<LeaseRevocationOutcome> outcomes = [.. claims.Select(c => byId.TryGetValue(c.LeaseId, out var result)
            ? new LeaseRevocationOutcome(c.LeaseId, result.IsDone ? LeaseOutcomeKind.Revoked : LeaseOutcomeKind.Failed, result.IsDone ? null : result.Error)
            : new LeaseRevocationOutcome(c.LeaseId, LeaseOutcomeKind.AlreadyRevoked, null))];
        var summaryEvent = summary is not null && outcomes.Count > 0 ? summary(RevokedTree.SummaryOf(outcomes)) : null;
        var recorded = _revoker.WritesRecords || summaryEvent is null
            ? _revoker.WriteRecordsAsync(records, summaryEvent)
            : _audit.RecordAsync(summaryEvent, CancellationToken.None); // no records to put it with (no audit trail): on its own
        return new RevokedTree(outcomes, recorded);
    }
}

/// <summary>What <see cref="LeaseTermination.RevokeWithDescendantsAsync"/> did: one outcome per lease, and their audit records still being stored.</summary>
/// <param name="Recorded">Completes when the lease.revoked records and the caller's summary are stored or have failed (logged; lease records are recovered from the outbox); never throws.</param>
public sealed record RevokedTree(IReadOnlyList<LeaseRevocationOutcome> Outcomes, Task Recorded)
{
    /// <summary>"n revoked, n failed, n already revoked": the detail of the caller's summary record.</summary>
    public string Summary => SummaryOf(Outcomes);

    internal static string SummaryOf(IReadOnlyList<LeaseRevocationOutcome> outcomes) =>
        $"{Count(outcomes, LeaseOutcomeKind.Revoked)} revoked, {Count(outcomes, LeaseOutcomeKind.Failed)} failed, {Count(outcomes, LeaseOutcomeKind.AlreadyRevoked)} already revoked";

    private static int Count(IReadOnlyList<LeaseRevocationOutcome> outcomes, LeaseOutcomeKind kind) => outcomes.Count(o => o.Outcome == kind);
}
