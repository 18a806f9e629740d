using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using JitBroker.Core;
using JitBroker.Issuance;
using Microsoft.Extensions.Logging;

namespace JitBroker.Audit;

/// <summary>The last record durably stored: its seq and hash.</summary>
public readonly record struct AuditChainHead(long Seq, string Hash);

/// <summary>
/// The hash-chained audit log. Appends from any number of callers queue behind one writer, which assigns
/// seq, time and hashes, adds a signed checkpoint every <see cref="AuditOptions.CheckpointEveryEvents"/> events
/// and every <see cref="AuditOptions.CheckpointInterval"/>, and writes each batch with one sink write (one
/// fsync under <see cref="AuditFsyncPolicy.Always"/>). <see cref="AppendAsync"/> returns once its record is
/// stored; when it cannot be, it throws <see cref="BrokerException"/> (Unavailable, <c>audit.unavailable</c>) —
/// unless <see cref="AuditOptions.FailOpen"/>, which logs instead. Dispose to drain the queue, write a final
/// checkpoint and sync; the log owns (and disposes) its sink.
/// </summary>
public sealed partial class AuditLog : IAuditLog, IAsyncDisposable
{
    private const int QueueCapacity = 16_384;

    private readonly IAuditSink _sink;
    private readonly ISigningKeyProvider _keys;
    private readonly TimeProvider _time;
    private readonly AuditOptions _options;
    private readonly ILogger _logger;
    private readonly BrokerMetrics? _metrics;
    private readonly Channel<Work> _queue = Channel.CreateBounded<Work>(
        new BoundedChannelOptions(QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly Lock _startGate = new();
    private Task? _started;
    private Task? _writer;
    private ITimer? _checkpointTimer;
    private ITimer? _syncTimer;
    private int _disposed;

    /// <param name="metrics">Where the writer reports each batch's size and write time (null: not reported).</param>
    public AuditLog(IAuditSink sink, ISigningKeyProvider keys, TimeProvider time, AuditOptions options, ILogger<AuditLog> logger,
        BrokerMetrics? metrics = null)
    {
        _sink = sink;
        _keys = keys;
        _time = time;
        _options = options;
        _logger = logger;
        _metrics = metrics;
    }

    /// <summary>The last record durably stored, or null before the log is open or when it is empty.</summary>
    public AuditChainHead? Head => _head?.Value;

    /// <summary>
    /// Opens the sink, continues its chain (writing a checkpoint first when the stored tail is unsigned) and
    /// starts the writer. Idempotent; <see cref="AppendAsync"/> calls it when nobody has. Throws
    /// <see cref="BrokerException"/> (<c>audit.tail_invalid</c>, <c>audit.unavailable</c>) whatever
    /// <see cref="AuditOptions.FailOpen"/> says: a log that cannot be continued needs a human before start-up.
    /// </summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        lock (_startGate)
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            if (_started is null || _started.IsFaulted || _started.IsCanceled)
            {
                _started = StartCoreAsync(cancellationToken);
            }

            return _started;
        }
    }

    /// <inheritdoc />
    /// <remarks>Cancelling stops the wait, not the write: a cancelled event may still be recorded.</remarks>
    // Every call suspends (it waits for the writer), so its state machine would be boxed per event; pooled instead.
    // Safe because every caller awaits the ValueTask exactly once, as its contract requires.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask AppendAsync(AuditEvent auditEvent, CancellationToken cancellationToken = default)
    {
        Validate(auditEvent);
        try
        {
            var work = Work.Append(auditEvent);
            await EnqueueAsync(work, cancellationToken);
            await work.Task.WaitAsync(cancellationToken);
        }
        catch (BrokerException e) when (_options.FailOpen && e.Reason == Reasons.Audit.Unavailable)
        {
            AuditLogMessages.EventDropped(_logger, auditEvent.Type, auditEvent.AgentId, auditEvent.TaskId, auditEvent.LeaseId, e.Reason, e);
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// Queued as one unit of the writer's queue, so the writer takes them in one batch (one sink write, one fsync) — queued
    /// one by one, the writer could wake on the first and store the rest in a second batch after the first one's fsync.
    /// Nothing is queued when any event is invalid; one that cannot be serialized fails the call, the events before it are
    /// still recorded.
    /// </remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask AppendManyAsync(IReadOnlyList<AuditEvent> auditEvents, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(auditEvents);
        foreach (var auditEvent in auditEvents)
        {
            Validate(auditEvent);
        }

        if (auditEvents.Count == 0)
        {
            return;
        }

        try
        {
            var work = Work.AppendMany([.. auditEvents]);
            await EnqueueAsync(work, cancellationToken);
            await work.Task.WaitAsync(cancellationToken);
        }
        catch (BrokerException e) when (_options.FailOpen && e.Reason == Reasons.Audit.Unavailable)
        {
            AuditLogMessages.EventDropped(_logger, auditEvents[0].Type, auditEvents[0].AgentId, auditEvents[0].TaskId, auditEvents[0].LeaseId, e.Reason, e);
        }
    }

    /// <summary>Returns once everything appended before the call is written and synced to stable storage.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        var work = Work.Control(WorkKind.Flush);
        await EnqueueAsync(work, cancellationToken);
        await work.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Writes a signed checkpoint now when events were appended since the last one, then flushes.</summary>
    public async Task CheckpointAsync(CancellationToken cancellationToken = default)
    {
        var work = Work.Control(WorkKind.Checkpoint);
        await EnqueueAsync(work, cancellationToken);
        await work.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Stops taking appends, writes what is queued, a final checkpoint, syncs, and closes the sink.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _checkpointTimer?.Dispose();
        _syncTimer?.Dispose();
        _queue.Writer.TryComplete();
        Task? started;
        lock (_startGate)
        {
            started = _started;
        }

        if (started is not null)
        {
            try
            {
                await started;
            }
            catch (BrokerException)
            {
                // Never opened: nothing to drain.
            }
        }

        if (_writer is not null)
        {
            await _writer;
        }

        FailQueued();
        // Again: a start that raced with this dispose may have created them after the first round.
        _checkpointTimer?.Dispose();
        _syncTimer?.Dispose();
        await _sink.DisposeAsync();
    }

    private async Task EnqueueAsync(Work work, CancellationToken cancellationToken)
    {
        if (_disposed != 0)
        {
            throw Closed();
        }

        try
        {
            await StartAsync(cancellationToken);
        }
        catch (ObjectDisposedException)
        {
            throw Closed();
        }
        catch (BrokerException e) when (e.Reason == Reasons.Audit.TailInvalid)
        {
            // Callers of AppendAsync see one failure: the record could not be written.
            throw new BrokerException(BrokerFailure.Unavailable, Reasons.Audit.Unavailable, "The audit log cannot be written.", e);
        }

        try
        {
            await _queue.Writer.WriteAsync(work, cancellationToken);
        }
        catch (ChannelClosedException)
        {
            throw Closed();
        }
    }

    private async Task StartCoreAsync(CancellationToken cancellationToken)
    {
        await OpenSinkAsync(cancellationToken);
        _checkpointTimer = _time.CreateTimer(_ => _queue.Writer.TryWrite(Work.Tick(WorkKind.CheckpointTick)), null,
            _options.CheckpointInterval, _options.CheckpointInterval);
        if (_options.FsyncPolicy == AuditFsyncPolicy.Interval)
        {
            _syncTimer = _time.CreateTimer(_ => _queue.Writer.TryWrite(Work.Tick(WorkKind.SyncTick)), null,
                _options.FsyncInterval, _options.FsyncInterval);
        }

        _writer = Task.Run(RunWriterAsync, CancellationToken.None);
    }

    private static void Validate(AuditEvent auditEvent)
    {
        ArgumentNullException.ThrowIfNull(auditEvent);
        if (string.IsNullOrEmpty(auditEvent.Type) || auditEvent.Type == AuditRecordTypes.Checkpoint || !EventType().IsMatch(auditEvent.Type))
        {
            throw new BrokerException(BrokerFailure.InvalidArgument, Reasons.Audit.EventInvalid,
                "An audit event type is dotted lowercase and not reserved by the log.");
        }
    }

    private static BrokerException Closed() =>
        new(BrokerFailure.Unavailable, Reasons.Audit.Unavailable, "The audit log is closed.");

    [GeneratedRegex("^[a-z0-9_]+(\\.[a-z0-9_]+)*$", RegexOptions.CultureInvariant)]
    private static partial Regex EventType();
}
