using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace JitBroker.Core;

/// <summary>
/// Writes the audit records of revocations. A <c>lease.revoked</c> record follows a mark that also put the lease in
/// this replica's outbox (<see cref="IRevocationOutbox"/>); once the record is stored the entry is acknowledged, in
/// batches. A record that could not be written stays in the outbox and <see cref="UnauditedRevocationRecovery"/> writes
/// it later — so the sweeper need not wait for the audit writer (which made the writer's latency the pace of bulk
/// revocation) and a crash between the two steps loses nothing.
/// </summary>
public sealed partial class RevocationAuditTrail : IAsyncDisposable
{
    /// <summary>Most records in flight at once; a sweeper that gets ahead of the audit writer waits here.</summary>
    public const int MaxInFlight = 8192;

    private const int AckBatch = 1000;

    /// <summary>How many recorded revocations the trail remembers (about 10 MiB at most) to never record one twice.</summary>
    private const int RememberedRecords = 65_536;

    private readonly IAuditLog? _audit;
    private readonly IRevocationOutbox? _outbox;
    private readonly ILogger _log;
    #pragma warning disable CA2213 // records in flight still release their slot after DisposeAsync; its wait handle is never created
    private readonly SemaphoreSlim _slots = new(MaxInFlight, MaxInFlight);
    #pragma warning restore CA2213
    private readonly ConcurrentDictionary<string, byte> _pending = new(StringComparer.Ordinal);
    private readonly RecentRevocationRecords _recorded = new(RememberedRecords);
    private readonly Channel<string> _acks = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _acking;

    /// <param name="audit">The audit log; null records nothing (tests of other concerns).</param>
    /// <param name="outbox">The ledger's outbox, when it has one (Redis); entries of <paramref name="owner"/> are acknowledged there.</param>
    /// <param name="owner">This replica's identity: the owner of its outbox entries and of its audit chain.</param>
    public RevocationAuditTrail(IAuditLog? audit, ILogger<RevocationAuditTrail> log, IRevocationOutbox? outbox = null, string? owner = null)
    {
        _audit = audit;
        _outbox = outbox;
        _log = log;
        Owner = outbox is null ? null : owner ?? throw new ArgumentNullException(nameof(owner), "An outbox needs its owner's identity.");
        _acking = outbox is null ? Task.CompletedTask : Task.Run(AcknowledgeLoopAsync);
    }

    /// <summary>The owner passed to <see cref="IRevocationQueue.MarkRevokedManyAsync"/>, or null when revocations are not tracked.</summary>
    public string? Owner { get; }

    /// <summary>True while this replica is still writing the lease's record (recovery must leave it alone).</summary>
    public bool IsPending(string leaseId) => _pending.ContainsKey(leaseId);

    /// <summary>True when this process stored (or is storing) the lease's <c>lease.revoked</c> record (see <see cref="RecentRevocationRecords"/>).</summary>
    public bool HasRecorded(string leaseId) => _recorded.Contains(leaseId);

    /// <summary>Claims the lease's <c>lease.revoked</c> record for a writer outside the trail (recovery); false when it was already written.</summary>
    internal bool TryClaimRecord(string leaseId) => _recorded.TryAdd(leaseId);

    /// <summary>Gives a claim back: the record could not be written.</summary>
    internal void ReleaseRecord(string leaseId) => _recorded.Remove(leaseId);

    /// <summary>
    /// Starts writing the <c>lease.revoked</c> record of a lease this replica just marked. Returns once the record is
    /// queued (waiting while <see cref="MaxInFlight"/> are); the returned task completes when it is stored or has
    /// failed — it never throws: a failure is logged and the outbox keeps the entry for recovery.
    /// </summary>
    public async ValueTask<Task> BeginRevokedAsync(Lease lease, string detail)
    {
        if (_audit is null)
        {
            return Task.CompletedTask;
        }

        _pending[lease.LeaseId] = 0;
        await _slots.WaitAsync().ConfigureAwait(false);
        return WriteRevokedAsync(lease, detail);
    }

    /// <summary>True when records are written (an audit log was given).</summary>
    public bool Records => _audit is not null;

    /// <summary>
    /// Writes the <c>lease.revoked</c> records of leases this replica just revoked, then <paramref name="alongside"/> (the
    /// caller's own summary: task.ended), as one append: the audit writer stores them in one batch — one sink write, one
    /// fsync — where records queued one by one could be split, the writer waking on the first and storing the rest after
    /// its fsync. For a caller that waits for its records (EndTask answers once they are stored), so unlike
    /// <see cref="BeginRevokedAsync"/> it takes no in-flight slot: it cannot get ahead of the writer. Completes when all are
    /// stored or have failed; never throws — a failure is logged, and the outbox keeps the leases' entries for recovery.
    /// </summary>
    public async Task WriteTogetherAsync(IReadOnlyList<(Lease Lease, string Detail)> revoked, AuditEvent? alongside)
    {
        if (_audit is null)
        {
            return;
        }

        var written = new List<Lease>(revoked.Count);
        var events = new List<AuditEvent>(revoked.Count + 1);
        foreach (var (lease, detail) in revoked)
        {
            // As in WriteRevokedAsync(lease): a lease whose record this process already wrote gets no second one.
            if (_recorded.TryAdd(lease.LeaseId))
            {
                _pending[lease.LeaseId] = 0;
                written.Add(lease);
                events.Add(EventOf(AuditEventTypes.LeaseRevoked, lease, detail));
            }
        }

        if (alongside is not null)
        {
            events.Add(alongside);
        }

        try
        {
            await _audit.AppendManyAsync(events, CancellationToken.None).ConfigureAwait(false);
            if (_outbox is not null)
            {
                foreach (var lease in written)
                {
                    _acks.Writer.TryWrite(lease.LeaseId);
                }
            }
        }
        catch (Exception ex)
        {
            foreach (var lease in written)
            {
                _recorded.Remove(lease.LeaseId);
                LogAuditLost(_log, lease.LeaseId, AuditEventTypes.LeaseRevoked, ex);
            }

            if (alongside is not null)
            {
                Handlers.BrokerLog.AuditEventLost(_log, alongside.Type, ex);
            }
        }
        finally
        {
            foreach (var lease in written)
            {
                _pending.TryRemove(lease.LeaseId, out _);
            }
        }
    }

    /// <summary>Writes any other revocation record (a failed attempt) and waits for it; a failure is logged, never thrown.</summary>
    public async Task RecordAsync(string type, Lease lease, string detail)
    {
        if (_audit is null)
        {
            return;
        }

        try
        {
            await _audit.AppendAsync(EventOf(type, lease, detail), CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogAuditLost(_log, lease.LeaseId, type, ex);
        }
    }

    public async ValueTask DisposeAsync()
    {
        // The slots are not disposed: records still in flight release theirs when they finish.
        _acks.Writer.TryComplete();
        await _acking.ConfigureAwait(false);
    }

    private async Task WriteRevokedAsync(Lease lease, string detail)
    {
        try
        {
            // Marked again after its record was written (a failover lost the first mark): the same revocation, no second
            // record. Its outbox entry is left to recovery, which acknowledges it once the first record is surely stored.
            if (!_recorded.TryAdd(lease.LeaseId))
            {
                return;
            }

            await _audit!.AppendAsync(EventOf(AuditEventTypes.LeaseRevoked, lease, detail), CancellationToken.None).ConfigureAwait(false);
            if (_outbox is not null)
            {
                _acks.Writer.TryWrite(lease.LeaseId);
            }
        }
        catch (Exception ex)
        {
            _recorded.Remove(lease.LeaseId);
            LogAuditLost(_log, lease.LeaseId, AuditEventTypes.LeaseRevoked, ex);
        }
        finally
        {
            _pending.TryRemove(lease.LeaseId, out _);
            _slots.Release();
        }
    }

    internal static AuditEvent EventOf(string type, Lease lease, string detail) => new()
    {
        Type = type, AgentId = lease.AgentId, TaskId = lease.TaskId, LeaseId = lease.LeaseId,
        ParentLeaseId = lease.ParentLeaseId, CredentialFingerprint = lease.CredentialFingerprint, Detail = detail,
    };

    private async Task AcknowledgeLoopAsync()
    {
        var batch = new List<string>(AckBatch);
        while (await _acks.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < AckBatch && _acks.Reader.TryRead(out var id))
            {
                batch.Add(id);
            }

            try
            {
                await _outbox!.AcknowledgeAuditedAsync(Owner!, batch, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // Harmless: recovery finds these records in the chain and acknowledges them itself.
                LogAckFailed(_log, batch.Count, ex);
            }
        }
    }

    [LoggerMessage(EventId = 1204, EventName = "RevocationAuditLost", Level = LogLevel.Error,
        Message = "The {Type} record of lease {LeaseId} could not be written; a lease.revoked record is recovered from the outbox")]
    private static partial void LogAuditLost(ILogger logger, string leaseId, string type, Exception exception);

    [LoggerMessage(EventId = 1205, EventName = "RevocationAuditAckFailed", Level = LogLevel.Warning,
        Message = "Acknowledging {Count} audited revocation(s) failed; recovery acknowledges them later")]
    private static partial void LogAckFailed(ILogger logger, int count, Exception exception);
}
