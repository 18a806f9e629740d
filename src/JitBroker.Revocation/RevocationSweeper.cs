using JitBroker.Core;
using Microsoft.Extensions.Logging;

namespace JitBroker.Revocation;

/// <summary>
/// One pass of expiry revocation: claims the leases the store says are due and revokes each through
/// <see cref="LeaseRevoker"/>. Holds no per-lease state — the store's due index is the schedule and every
/// claim carries a deadline — so any number of replicas may sweep the same store, and a replica that dies
/// mid-sweep only delays its claimed leases until their claims lapse.
/// </summary>
public sealed partial class RevocationSweeper
{
    /// <summary>Most leases whose revocations are marked in one ledger call.</summary>
    public const int MarksPerGroup = 64;

    private readonly IRevocationQueue _queue;
    private readonly LeaseRevoker _revoker;
    private readonly BrokerOptions _broker;
    private readonly RevocationOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<RevocationSweeper> _log;

    public RevocationSweeper(
        IRevocationQueue queue,
        LeaseRevoker revoker,
        BrokerOptions broker,
        RevocationOptions options,
        TimeProvider time,
        ILogger<RevocationSweeper> log)
    {
        _queue = queue;
        _revoker = revoker;
        _broker = broker;
        _options = options;
        _time = time;
        _log = log;
    }

    /// <summary>
    /// Claims due leases in batches of <see cref="RevocationOptions.BatchSize"/> — until a claim returns fewer
    /// than that — and revokes each batch with at most <see cref="RevocationOptions.MaxParallelRevocations"/>
    /// revocations at once. Returns how many leases it processed (revoked, found already gone, or parked as
    /// failed for a later retry).
    /// </summary>
    /// <remarks>
    /// Never throws for a store or backend failure: a store outage ends the pass (logged) and the next sweep
    /// tries again; a lease whose outcome could not be recorded stays claimed until its claim deadline and is
    /// then claimed again. Throws <see cref="OperationCanceledException"/> when
    /// <paramref name="cancellationToken"/> is cancelled; leases claimed but not yet revoked are then picked
    /// up after their claim deadline. <see cref="LastClaimFailed"/> says whether this pass ended on a failed claim.
    /// </remarks>
    public async Task<int> SweepOnceAsync(CancellationToken cancellationToken = default)
    {
        LastClaimFailed = false;
        var processed = 0;
        // Groups of up to MarksPerGroup leases: each group's revocations run at once and are marked in one ledger call;
        // groups run side by side so that at most MaxParallelRevocations revocations are in flight.
        var group = Math.Min(MarksPerGroup, _options.MaxParallelRevocations);
        var parallel = new ParallelOptions
        {
            MaxDegreeOfParallelism = Math.Max(1, _options.MaxParallelRevocations / group),
            CancellationToken = cancellationToken,
        };

        // The next claim is taken while the current batch is being revoked: a sweep alternates a Redis round trip
        // (claim) with revocations that mostly wait on Redis too (marking), so overlapping them keeps both busy.
        var next = ClaimAsync(processed, cancellationToken);
        while (true)
        {
            var batch = await next.ConfigureAwait(false);
            if (batch is null || batch.Count == 0)
            {
                break;
            }

            // A short batch means the due backlog is drained. A full one may hide more: claim again, now.
            var more = batch.Count >= _options.BatchSize;
            next = more ? ClaimAsync(processed + batch.Count, cancellationToken) : Task.FromResult<IReadOnlyList<Lease>?>(null);
            try
            {
                var toRevoke = await RecordRevokedInClaimAsync(batch).ConfigureAwait(false);
                await Parallel.ForEachAsync(toRevoke.Chunk(group), parallel, RevokeGroupAsync).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Cancelled (or a bug): the claim taken ahead lapses into a later sweep like any claimed lease; observe it.
                _ = next.ContinueWith(static t => t.Exception, TaskScheduler.Default);
                throw;
            }

            processed += batch.Count;
            if (!more)
            {
                break;
            }
        }

        if (processed > 0)
        {
            LogSwept(_log, processed);
        }

        return processed;
    }

    /// <summary>One claim of up to a batch of due leases; null when the store failed (logged: the pass ends, the next sweep retries).</summary>
    /// <summary>
    /// Whether the last <see cref="SweepOnceAsync"/> ended because a claim failed (the store refused or could not be
    /// reached): the sweep loop then backs off instead of sweeping again at once while leases are due.
    /// </summary>
    public bool LastClaimFailed { get; private set; }

    private async Task<IReadOnlyList<Lease>?> ClaimAsync(int processedSoFar, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            // A fresh "now" per batch, so each claim's deadline is measured from when it was taken.
            // Leases whose issuer's revocation is the ledger's mark (JWTs) come back already revoked: one script, not a
            // claim and then a mark.
            return await _queue.ClaimDueAsync(_time.GetUtcNow(), _options.BatchSize, _broker.RevocationClaimTimeout, _revoker.LedgerRevocation,
                cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogClaimFailed(_log, processedSoFar, ex);
            LastClaimFailed = true;
            return null;
        }
    }

    /// <summary>
    /// Records the leases the claim itself revoked (state revoked: <see cref="LeaseRevoker.LedgerRevocation"/>) and returns
    /// the rest, which were claimed and still have to be revoked. As for a group marked below, the <c>lease.revoked</c>
    /// records are written behind the sweep: the outbox the claim put them in holds them until they are stored.
    /// </summary>
    private async ValueTask<IReadOnlyList<Lease>> RecordRevokedInClaimAsync(IReadOnlyList<Lease> batch)
    {
        var revoked = batch.Where(l => l.State == LeaseState.Revoked).ToList();
        if (revoked.Count == 0)
        {
            return batch;
        }

        _ = await _revoker.BeginRecordRevokedInLedgerAsync(revoked).ConfigureAwait(false);
        return [.. batch.Where(l => l.State != LeaseState.Revoked)];
    }

    private async ValueTask RevokeGroupAsync(Lease[] group, CancellationToken cancellationToken)
    {
        try
        {
            // The revoker records the outcomes itself (revoked, or revoke_failed with the next attempt time). The
            // lease.revoked records are written behind the sweep: the ledger's outbox holds them until they are stored.
            await _revoker.RevokeClaimedManyAsync(group, group.Length, waitForAudit: false, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Only recording the outcomes can throw here (store unavailable). The leases keep their claim deadline, so
            // they are claimed and tried again once it lapses: nothing is lost.
            foreach (var lease in group)
            {
                LogOutcomeNotRecorded(_log, lease.LeaseId, lease.IssuerKind, ex);
            }
        }
    }

    [LoggerMessage(EventId = 3101, EventName = "RevocationSweepDone", Level = LogLevel.Debug,
        Message = "Revocation sweep processed {Processed} due lease(s)")]
    private static partial void LogSwept(ILogger logger, int processed);

    [LoggerMessage(EventId = 3102, EventName = "RevocationClaimFailed", Level = LogLevel.Warning,
        Message = "Claiming due leases failed after {Processed} processed in this sweep; the next sweep retries")]
    private static partial void LogClaimFailed(ILogger logger, int processed, Exception exception);

    [LoggerMessage(EventId = 3103, EventName = "RevocationOutcomeNotRecorded", Level = LogLevel.Warning,
        Message = "Revocation outcome of lease {LeaseId} ({IssuerKind}) could not be recorded; it is retried when its claim lapses")]
    private static partial void LogOutcomeNotRecorded(ILogger logger, string leaseId, string issuerKind, Exception exception);
}
