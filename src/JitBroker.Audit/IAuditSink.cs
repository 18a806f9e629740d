using JitBroker.Core;

namespace JitBroker.Audit;

/// <summary>
/// Where audit records are stored (a JSON-lines file; later a Redis Stream). The audit log is the only caller
/// and calls one member at a time from its single writer, so implementations need no locking of their own.
/// A sink stores records exactly as given (<see cref="AuditRecord.Line"/>) and in order; it never reorders,
/// rewrites or drops one. The records handed to <see cref="WriteAsync"/> may hold their lines in the log's batch
/// buffer, which the next batch reuses, and the list itself is reused: a sink that keeps a record after the call returns
/// keeps <see cref="AuditRecord.Detached"/>, never the list.
/// </summary>
public interface IAuditSink : IAsyncDisposable
{
    /// <summary>
    /// Opens the store — or re-opens it after a failed write — and returns its last record, or null when it is
    /// empty. Throws <see cref="JitBroker.Core.BrokerException"/> with <see cref="Reasons.Audit.TailInvalid"/>
    /// when the stored tail cannot be continued (torn, edited, not chained), and with
    /// <see cref="Reasons.Audit.Unavailable"/> when the store cannot be reached.
    /// </summary>
    ValueTask<AuditRecord?> OpenAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Appends <paramref name="records"/> in order. Returns once they are as durable as the sink's policy
    /// promises; throws when they may not be stored, after which the log calls <see cref="OpenAsync"/> again
    /// before the next write (a failed write may have stored some of the records).
    /// </summary>
    ValueTask WriteAsync(IReadOnlyList<AuditRecord> records, CancellationToken cancellationToken = default);

    /// <summary>Forces everything written so far to stable storage (interval fsync, shutdown).</summary>
    ValueTask SyncAsync(CancellationToken cancellationToken = default);
}
