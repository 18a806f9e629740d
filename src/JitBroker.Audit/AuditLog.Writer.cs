using System.Buffers;
using System.Runtime.CompilerServices;
using JitBroker.Core;

namespace JitBroker.Audit;

// The single writer. Everything below runs on the writer loop only (or before it starts), so the chain
// state needs no lock: seq, hash and the checkpoint counter advance as records are built, and are re-read
// from the sink after any failed write.
public sealed partial class AuditLog
{
    private volatile StrongBox<AuditChainHead>? _head;
    private bool _open;
    private long _seq;
    private string _hash = AuditRecord.GenesisHash;
    private int _sinceCheckpoint;

    // The batch buffer event lines are written into (AuditRecord.Create): reused batch after batch instead of an array
    // per record. Reused only after the sink's write returned — the sink, and the Redis client under the mirror, are
    // done with the bytes then. After a failed write a fresh one is taken: a command the Redis client still holds (a
    // timed-out XADD) may yet be sent from the old one, and must send the bytes it was given.
    private ArrayBufferWriter<byte> _lines = new(InitialLineBuffer);
    private const int InitialLineBuffer = 64 * 1024;

    // The batch's records, handed to the sink as they are and reused batch after batch: a sink keeps nothing past its call,
    // and a timed-out XADD still queued in the Redis client holds its line (in _lines), not this list — so unlike _lines
    // the list needs no replacing after a failed write.
    private readonly List<AuditRecord> _records = [];

    /// <summary>A buffer a burst grew beyond this is dropped after its batch rather than kept for the process's life.</summary>
    private const int MaxKeptLineBuffer = 1024 * 1024;

    private enum WorkKind
    {
        Append,
        Flush,
        Checkpoint,
        CheckpointTick,
        SyncTick,
    }

    private async Task OpenSinkAsync(CancellationToken cancellationToken)
    {
        _open = false;
        var last = await _sink.OpenAsync(cancellationToken);
        _seq = last?.Seq ?? 0;
        _hash = last?.Hash ?? AuditRecord.GenesisHash;
        _sinceCheckpoint = 0;
        _head = last is null ? null : new(new AuditChainHead(last.Seq, last.Hash));
        if (last is { IsCheckpoint: false })
        {
            // The previous run stopped without signing its last events (a crash): sign them now, so at most
            // CheckpointEveryEvents events of the running process are ever unsigned.
            await WriteRecordsAsync([NextCheckpoint()], cancellationToken);
        }

        _open = true;
        AuditLogMessages.Opened(_logger, _seq);
    }

    private async Task RunWriterAsync()
    {
        var batch = new List<Work>(_options.MaxBatchSize);
        while (await _queue.Reader.WaitToReadAsync())
        {
            batch.Clear();
            while (batch.Count < _options.MaxBatchSize && _queue.Reader.TryRead(out var work))
            {
                batch.Add(work);
            }

            await ProcessAsync(batch);
        }

        await CloseAsync();
    }

    // The writer's own steps return pooled ValueTasks: each is awaited once, by the loop, so a batch boxes no state machine
    // (per-batch costs are what a lone caller pays per request).
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ProcessAsync(List<Work> batch)
    {
        if (!_open)
        {
            try
            {
                await OpenSinkAsync(CancellationToken.None);
            }
            catch (Exception e)
            {
                AuditLogMessages.ReopenFailed(_logger, e);
                Fail(batch, e);
                return;
            }
        }

        var records = _records;
        records.Clear();
        var sync = false;
        _lines.ResetWrittenCount();
        try
        {
            foreach (var work in batch)
            {
                switch (work.Kind)
                {
                    case WorkKind.Append:
                        foreach (var auditEvent in work.Events)
                        {
                            if (NextEvent(work, auditEvent) is not { } record)
                            {
                                break; // the work has failed; the events after the bad one are not recorded
                            }

                            records.Add(record);
                            _sinceCheckpoint++;
                            if (_sinceCheckpoint >= _options.CheckpointEveryEvents)
                            {
                                records.Add(NextCheckpoint());
                            }
                        }

                        break;
                    case WorkKind.Checkpoint or WorkKind.CheckpointTick when _sinceCheckpoint > 0:
                        records.Add(NextCheckpoint());
                        break;
                }

                sync |= work.Kind is WorkKind.Flush or WorkKind.Checkpoint or WorkKind.SyncTick;
            }

            if (records.Count > 0)
            {
                await WriteRecordsAsync(records, CancellationToken.None);
            }
        }
        catch (Exception e)
        {
            _open = false;
            _lines = new ArrayBufferWriter<byte>(InitialLineBuffer);
            AuditLogMessages.WriteFailed(_logger, records.Count, _options.FailOpen ? "fail-open: events dropped" : "fail-closed", e);
            Fail(batch, e);
            return;
        }

        if (_lines.Capacity > MaxKeptLineBuffer)
        {
            _lines = new ArrayBufferWriter<byte>(InitialLineBuffer);
        }

        records.Clear(); // drops the references: a batch's records are not kept alive until the next one

        Exception? syncFailure = null;
        if (sync)
        {
            try
            {
                await _sink.SyncAsync(CancellationToken.None);
            }
            catch (Exception e)
            {
                // After a failed fsync the kernel may have dropped the dirty pages: re-open and re-read the tail.
                _open = false;
                syncFailure = e;
                AuditLogMessages.SyncFailed(_logger, e);
            }
        }

        foreach (var work in batch)
        {
            // Appends wait for their policy's durability, which WriteAsync already gave; control calls promise a sync.
            if (syncFailure is not null && work.Kind is WorkKind.Flush or WorkKind.Checkpoint)
            {
                work.TrySetException(Unavailable(syncFailure));
            }
            else
            {
                work.TrySetResult();
            }
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteRecordsAsync(List<AuditRecord> records, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        await _sink.WriteAsync(records, cancellationToken);
        _metrics?.AuditWritten(records.Count, _time.GetElapsedTime(started));
        _head = new(new AuditChainHead(records[^1].Seq, records[^1].Hash));
    }

    private async Task CloseAsync()
    {
        if (!_open)
        {
            return;
        }

        try
        {
            if (_sinceCheckpoint > 0)
            {
                await WriteRecordsAsync([NextCheckpoint()], CancellationToken.None);
            }

            await _sink.SyncAsync(CancellationToken.None);
        }
        catch (Exception e)
        {
            AuditLogMessages.CloseFailed(_logger, e);
        }
    }

    private AuditRecord? NextEvent(Work work, JitBroker.Core.AuditEvent auditEvent)
    {
        AuditRecord record;
        try
        {
            record = AuditRecord.Create(_seq + 1, _time.GetUtcNow(), _hash, auditEvent, _lines);
        }
        catch (Exception e) when (e is NullReferenceException or ArgumentException or FormatException)
        {
            // One malformed event (a null list inside an init-only record) must not fail its batch-mates.
            work.TrySetException(new BrokerException(BrokerFailure.InvalidArgument, Reasons.Audit.EventInvalid,
                "The audit event could not be serialized.", e));
            return null;
        }

        return Chain(record);
    }

    private AuditRecord Chain(AuditRecord record)
    {
        _seq = record.Seq;
        _hash = record.Hash;
        return record;
    }

    private AuditRecord NextCheckpoint()
    {
        var key = _keys.Current;
        var headSeq = _seq;
        // One reading of the clock: the signed statement and the stored record must name the same instant
        // (two readings differ by microseconds, and the signature would never verify).
        var at = _time.GetUtcNow();
        var record = Chain(AuditRecord.Create(_seq + 1, at, _hash, AuditCheckpoint.Body(_seq + 1, at, _seq, _hash, key)));
        _sinceCheckpoint = 0;
        AuditLogMessages.CheckpointWritten(_logger, record.Seq, headSeq, key.KeyId);
        return record;
    }

    private static void Fail(List<Work> batch, Exception e)
    {
        var failure = Unavailable(e);
        foreach (var work in batch)
        {
            work.TrySetException(failure);
        }
    }

    private void FailQueued()
    {
        while (_queue.Reader.TryRead(out var work))
        {
            work.TrySetException(Closed());
        }
    }

    private static BrokerException Unavailable(Exception e) =>
        e is BrokerException { Reason: Reasons.Audit.Unavailable } b
            ? b
            : new BrokerException(BrokerFailure.Unavailable, Reasons.Audit.Unavailable, "The audit record could not be written.", e);

    // Its own completion source (one object per event instead of two). An append carries one event, or several that are
    // written in the same batch and complete together (AppendManyAsync).
    private sealed class Work : TaskCompletionSource
    {
        private readonly JitBroker.Core.AuditEvent? _event;
        private readonly JitBroker.Core.AuditEvent[]? _events;

        private Work(WorkKind kind, JitBroker.Core.AuditEvent? auditEvent, JitBroker.Core.AuditEvent[]? auditEvents)
            : base(TaskCreationOptions.RunContinuationsAsynchronously)
        {
            Kind = kind;
            _event = auditEvent;
            _events = auditEvents;
        }

        public WorkKind Kind { get; }

        /// <summary>The events an append records, in order (none for other kinds).</summary>
        public ReadOnlySpan<JitBroker.Core.AuditEvent> Events =>
            _events ?? (_event is null ? [] : new ReadOnlySpan<JitBroker.Core.AuditEvent>(in _event));

        public static Work Append(JitBroker.Core.AuditEvent auditEvent) => new(WorkKind.Append, auditEvent, null);

        public static Work AppendMany(JitBroker.Core.AuditEvent[] auditEvents) => new(WorkKind.Append, null, auditEvents);

        public static Work Control(WorkKind kind) => new(kind, null, null);

        public static Work Tick(WorkKind kind) => new(kind, null, null);
    }
}
