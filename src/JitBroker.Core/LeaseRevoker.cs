using Microsoft.Extensions.Logging;

namespace JitBroker.Core;

/// <summary>
/// Revokes one claimed lease through its issuer and records the outcome. Shared by EndTask (synchronous)
/// and the expiry sweeper, so both follow exactly the same rules: "already gone" is done, a failure is
/// parked as <see cref="LeaseState.RevokeFailed"/> and rescheduled with backoff, never dropped.
/// </summary>
public sealed partial class LeaseRevoker
{
    private readonly IRevocationQueue _queue;
    private readonly IssuerRegistry _issuers;
    private readonly RetryBackoff _backoff;
    private readonly TimeProvider _time;
    private readonly ILogger<LeaseRevoker> _log;
    private readonly RevocationAuditTrail? _audit;
    private readonly BrokerMetrics? _metrics;
    private readonly IRevocationSignals? _signals;

    /// <param name="audit">Where revocations are recorded; a failure to record is logged (and recovered from the outbox), never allowed to undo a revocation.</param>
    /// <param name="metrics">Revocation outcome and lag instruments.</param>
    /// <param name="signals">Where revocations are queued for relying parties (Shared Signals), before the mark; null when none are configured.</param>
    public LeaseRevoker(IRevocationQueue queue, IssuerRegistry issuers, RetryBackoff backoff, TimeProvider time, ILogger<LeaseRevoker> log,
        RevocationAuditTrail? audit = null, BrokerMetrics? metrics = null, IRevocationSignals? signals = null)
    {
        _signals = signals;
        _queue = queue;
        _issuers = issuers;
        _backoff = backoff;
        _time = time;
        _log = log;
        _audit = audit;
        _metrics = metrics;
        LedgerRevocation = LedgerRevocationFor(issuers, audit, signals);
    }

    /// <summary>Revokes a lease the caller has claimed. Never throws for backend failures.</summary>
    /// <param name="waitForAudit">
    /// False lets the sweeper go on as soon as the ledger has the revocation: the <c>lease.revoked</c> record is then
    /// written behind it, and the ledger's outbox guarantees it even if this replica dies first.
    /// </param>
    public async Task<RevocationResult> RevokeClaimedAsync(Lease lease, bool waitForAudit = true, CancellationToken cancellationToken = default) =>
        (await RevokeClaimedManyAsync([lease], 1, waitForAudit, cancellationToken).ConfigureAwait(false))[0];

    /// <summary>
    /// Revokes leases the caller has claimed: each at its issuer (at most <paramref name="parallelism"/> at once), then
    /// the ones the backends call done are signalled to relying parties, then marked revoked together (one ledger call), the
    /// rest parked as failed. Never throws for backend failures; a ledger or signal-queue failure throws and leaves the claims
    /// to lapse and be retried.
    /// </summary>
    public async Task<IReadOnlyList<RevocationResult>> RevokeClaimedManyAsync(IReadOnlyList<Lease> leases, int parallelism, bool waitForAudit = true,
        CancellationToken cancellationToken = default)
    {
        var revoked = await BeginRevokeClaimedManyAsync(leases, parallelism, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (waitForAudit)
        {
            await revoked.Recorded.ConfigureAwait(false);
        }

        return revoked.Results;
    }

    /// <summary>
    /// <see cref="RevokeClaimedManyAsync"/> that returns as soon as the ledger has every outcome, the <c>lease.revoked</c>
    /// records queued to the audit log but not yet stored: <see cref="ClaimedRevocations.Recorded"/> completes when they
    /// are (it never throws). A caller that records a summary of its own (task.ended) collects the records
    /// (<paramref name="into"/>) and writes them with it, so one group commit (one fsync) stores them all.
    /// </summary>
    /// <param name="into">
    /// Where the records go instead of the audit log, for a caller that writes them together with records of its own
    /// (<see cref="WriteRecordsAsync"/>); <see cref="ClaimedRevocations.Recorded"/> is then complete at once.
    /// </param>
    public async Task<ClaimedRevocations> BeginRevokeClaimedManyAsync(IReadOnlyList<Lease> leases, int parallelism, RevocationRecords? into = null,
        CancellationToken cancellationToken = default)
    {
        var results = new RevocationResult[leases.Count];
        if (leases.Count <= parallelism)
        {
            // All at once, started here: an issuer that answers without waiting (a JWT's revocation is a ledger mark)
            // costs no thread-pool hop per lease, and one that waits (Vault over HTTP) has every call in flight together.
            var pending = new Task<RevocationResult>[leases.Count];
            for (var i = 0; i < pending.Length; i++)
            {
                pending[i] = RevokeAtIssuerAsync(leases[i], cancellationToken);
            }

            for (var i = 0; i < pending.Length; i++)
            {
                results[i] = await pending[i].ConfigureAwait(false);
            }
        }
        else
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, leases.Count),
                new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = cancellationToken },
                async (i, ct) => results[i] = await RevokeAtIssuerAsync(leases[i], ct).ConfigureAwait(false)).ConfigureAwait(false);
        }

        var now = _time.GetUtcNow();
        var done = Enumerable.Range(0, leases.Count).Where(i => results[i].IsDone).ToList();
        // The signals for relying parties are queued BEFORE the mark: a crash between the two then leaves a signal for a
        // revocation the claim's lapse will retry (the tool refuses a credential the broker is still revoking: fail
        // closed), never a revocation recorded without its signal. A racing revoker may queue a second signal for the same
        // credential; revoking twice at a receiver is harmless. If queuing fails the leases are not marked: this throws
        // like a ledger failure, the claims lapse and the whole revocation is tried again.
        if (_signals is not null && done.Count > 0)
        {
            await _signals.RevokedAsync([.. done.Select(i => leases[i])], now, CancellationToken.None).ConfigureAwait(false);
        }

        // Once the backend said "done", recording it must not depend on the caller still waiting: an operator's
        // cancelled call must not leave a revoked lease unmarked or marked but unaudited. Only the call that changed
        // the state writes the audit record, so racing revokers (EndTask and a sweeper) leave exactly one lease.revoked
        // event; the mark puts the lease in this replica's outbox in the same atomic step.
        var changed = done.Count == 0
            ? []
            : await _queue.MarkRevokedManyAsync([.. done.Select(i => leases[i].LeaseId)], now, _audit?.Owner, CancellationToken.None).ConfigureAwait(false);
        var recorded = new List<Task>(done.Count);
        for (var j = 0; j < done.Count; j++)
        {
            var (lease, result) = (leases[done[j]], results[done[j]]);
            if (!changed[j])
            {
                results[done[j]] = RevocationResult.AlreadyGone;
                continue;
            }

            if (into is not null)
            {
                Note(lease, result.Status, now);
                into.Add(lease, result.Status);
            }
            else if (await BeginRecordAsync(lease, result.Status, now).ConfigureAwait(false) is { } record)
            {
                recorded.Add(record);
            }
        }

        foreach (var i in Enumerable.Range(0, leases.Count).Where(i => !results[i].IsDone))
        {
            await ParkFailedAsync(leases[i], results[i], now).ConfigureAwait(false);
        }

        return new ClaimedRevocations(results, Task.WhenAll(recorded));
    }

    /// <summary>
    /// What the ledger may revoke without a claim (<see cref="IRevocationQueue.ClaimTaskAsync"/>): the configured issuer kinds
    /// whose revocation is the ledger's mark, with this replica's audit owner. Null when there are none, or when revocations
    /// are signalled to relying parties — a signal is queued before its lease is marked (see
    /// <see cref="BeginRevokeClaimedManyAsync"/>), which a mark made inside the claim cannot wait for.
    /// </summary>
    public LedgerRevocation? LedgerRevocation { get; }

    private static LedgerRevocation? LedgerRevocationFor(IssuerRegistry issuers, RevocationAuditTrail? audit, IRevocationSignals? signals)
    {
        if (signals is not null)
        {
            return null;
        }

        var kinds = issuers.Kinds.Where(k => issuers.Get(k).RevokedByLedgerMark).ToHashSet(StringComparer.Ordinal);
        return kinds.Count == 0 ? null : new LedgerRevocation(kinds, audit?.Owner);
    }

    /// <summary>
    /// The bookkeeping of leases the ledger revoked in its claim step (<see cref="LedgerRevocation"/>: the sweeper's claimed
    /// leases that come back revoked; EndTask's <see cref="TreeClaim.RevokedInStep"/> use <see cref="NoteRevokedInLedger"/>) — the same as for a lease
    /// this revoker marked: metrics, log, and the <c>lease.revoked</c> record queued. The returned task completes when the
    /// records are stored or have failed (the outbox recovers them); never throws.
    /// </summary>
    public async Task<Task> BeginRecordRevokedInLedgerAsync(IReadOnlyList<Lease> leases)
    {
        var recorded = new List<Task>(leases.Count);
        foreach (var lease in leases)
        {
            _metrics?.Revocation(RevocationStatus.Revoked, lease.IssuerKind);
            if (await BeginRecordAsync(lease, RevocationStatus.Revoked, lease.RevokedAt ?? _time.GetUtcNow()).ConfigureAwait(false) is { } record)
            {
                recorded.Add(record);
            }
        }

        return Task.WhenAll(recorded);
    }

    /// <summary>
    /// <see cref="BeginRecordRevokedInLedgerAsync"/> for a caller that writes the records itself, with one of its own
    /// (<see cref="WriteRecordsAsync"/>): metrics and log now, the records into <paramref name="into"/>.
    /// </summary>
    public void NoteRevokedInLedger(IReadOnlyList<Lease> leases, RevocationRecords into)
    {
        foreach (var lease in leases)
        {
            _metrics?.Revocation(RevocationStatus.Revoked, lease.IssuerKind);
            Note(lease, RevocationStatus.Revoked, lease.RevokedAt ?? _time.GetUtcNow());
            into.Add(lease, RevocationStatus.Revoked);
        }
    }

    /// <summary>True when this revoker writes audit records (it has an audit trail); <see cref="WriteRecordsAsync"/> writes nothing otherwise.</summary>
    public bool WritesRecords => _audit?.Records == true;

    /// <summary>
    /// Writes the collected <c>lease.revoked</c> records and then <paramref name="alongside"/> (the caller's summary) as one
    /// append — one batch of the audit writer, one fsync (<see cref="RevocationAuditTrail.WriteTogetherAsync"/>). Completes
    /// when they are stored or have failed; never throws.
    /// </summary>
    public Task WriteRecordsAsync(RevocationRecords records, AuditEvent? alongside) =>
        _audit is null ? Task.CompletedTask : _audit.WriteTogetherAsync(records.Revoked, alongside);

    /// <summary>Logs a revocation this call made, measures its lag, and queues its audit record (null without an audit trail).</summary>
    private async ValueTask<Task?> BeginRecordAsync(Lease lease, RevocationStatus status, DateTimeOffset revokedAt)
    {
        Note(lease, status, revokedAt);
        return _audit is null ? null : await _audit.BeginRevokedAsync(lease, status.ToString()).ConfigureAwait(false);
    }

    /// <summary>Logs a revocation this call made and measures its lag.</summary>
    private void Note(Lease lease, RevocationStatus status, DateTimeOffset revokedAt)
    {
        LogRevoked(_log, lease.LeaseId, lease.TaskId, lease.AgentId, status);
        if (revokedAt >= lease.ExpiresAt)
        {
            _metrics?.RevocationLag(revokedAt - lease.ExpiresAt);
        }
    }

    private async Task<RevocationResult> RevokeAtIssuerAsync(Lease lease, CancellationToken cancellationToken)
    {
        RevocationResult result;
        if (!_issuers.TryGet(lease.IssuerKind, out var issuer))
        {
            // A lease whose issuer was removed from configuration cannot be revoked at its source; keep it
            // visible and retried rather than pretending it is gone.
            result = RevocationResult.Failed($"issuer kind '{lease.IssuerKind}' is not configured");
        }
        else
        {
            try
            {
                result = await issuer.RevokeAsync(lease, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                result = RevocationResult.Failed(ex is BrokerException be ? be.Message : ex.GetType().Name);
                LogIssuerThrew(_log, lease.LeaseId, lease.IssuerKind, ex);
            }
        }

        _metrics?.Revocation(result.Status, lease.IssuerKind);
        return result;
    }

    private async Task ParkFailedAsync(Lease lease, RevocationResult result, DateTimeOffset now)
    {
        var attempt = lease.Attempts + 1;
        var next = now + _backoff.DelayFor(attempt);
        await _queue.MarkRevokeFailedAsync(lease.LeaseId, result.Error ?? "unknown error", next, CancellationToken.None).ConfigureAwait(false);
        LogRevokeFailed(_log, lease.LeaseId, lease.IssuerKind, attempt, result.Error ?? "unknown error", next);
        if (_audit is not null)
        {
            await _audit.RecordAsync(AuditEventTypes.RevocationFailed, lease, $"attempt {attempt}: {result.Error}; next attempt {next:O}").ConfigureAwait(false);
        }
    }

    [LoggerMessage(EventId = 1201, EventName = "LeaseRevoked", Level = LogLevel.Information,
        Message = "Lease {LeaseId} of task {TaskId} (agent {AgentId}) revoked: {Status}")]
    private static partial void LogRevoked(ILogger logger, string leaseId, string taskId, string agentId, RevocationStatus status);

    [LoggerMessage(EventId = 1202, EventName = "LeaseRevokeFailed", Level = LogLevel.Warning,
        Message = "Revoking lease {LeaseId} ({IssuerKind}) failed on attempt {Attempt}: {Error}; next attempt at {NextAttemptAt:O}")]
    private static partial void LogRevokeFailed(ILogger logger, string leaseId, string issuerKind, int attempt, string error, DateTimeOffset nextAttemptAt);

    [LoggerMessage(EventId = 1203, EventName = "IssuerRevokeThrew", Level = LogLevel.Warning,
        Message = "Issuer {IssuerKind} threw while revoking lease {LeaseId}")]
    private static partial void LogIssuerThrew(ILogger logger, string leaseId, string issuerKind, Exception exception);
}

/// <summary>What <see cref="LeaseRevoker.BeginRevokeClaimedManyAsync"/> did: one result per lease, and the audit records still being stored.</summary>
/// <param name="Recorded">Completes when the <c>lease.revoked</c> records are stored or have failed (a failure is logged and recovered from the outbox); never throws.</param>
public sealed record ClaimedRevocations(IReadOnlyList<RevocationResult> Results, Task Recorded);

/// <summary>
/// <c>lease.revoked</c> records collected while leases are revoked, to be written as one append with the caller's own
/// record (<see cref="LeaseRevoker.WriteRecordsAsync"/>).
/// </summary>
public sealed class RevocationRecords
{
    private readonly List<(Lease Lease, string Detail)> _revoked = [];

    /// <summary>Each revoked lease with its record's detail (the revocation status), in the order revoked.</summary>
    public IReadOnlyList<(Lease Lease, string Detail)> Revoked => _revoked;

    internal void Add(Lease lease, RevocationStatus status) => _revoked.Add((lease, status.ToString()));
}
