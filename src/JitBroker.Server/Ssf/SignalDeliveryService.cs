using System.Collections.Concurrent;
using JitBroker.Core;

namespace JitBroker.Server.Ssf;

/// <summary>
/// Pushes queued SETs, on every replica: each stream is worked by at most one task here at a time, claiming a batch from
/// the outbox (claims keep replicas off each other's items; a claim that lapses — a replica died mid-push — is delivered
/// again, so delivery is at-least-once and receivers dedupe by <c>jti</c>). A failing receiver backs off alone (capped,
/// jittered, no attempt limit) and never slows another receiver or any revocation: revocation only ever enqueues.
/// </summary>
public sealed partial class SignalDeliveryService(ISignalOutbox outbox, SecurityEventTokens tokens, SetPusher pusher, SsfSettings settings,
    SignalDeliveryWakeup wakeup, SsfMetrics metrics, IAuditLog audit, TimeProvider time, ILogger<SignalDeliveryService> log) : BackgroundService
{
    private static readonly TimeSpan TrimInterval = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<string, StreamState> _states = new(StringComparer.Ordinal);
    private readonly RetryBackoff _backoff = new(settings.RetryInitialDelay, settings.RetryMaxDelay);
    private DateTimeOffset _nextTrim;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await wakeup.WaitAsync(settings.PollInterval, stoppingToken).ConfigureAwait(false);
                await TickAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                LogLoopFailed(log, ex);
            }
        }

        await Task.WhenAll(_states.Values.Select(s => s.Running)).ConfigureAwait(false);
    }

    /// <summary>One pass: start delivery for every stream that is enabled, idle here and not backing off; trim now and then.</summary>
    internal async Task TickAsync(CancellationToken cancellationToken = default)
    {
        var streams = await outbox.ListStreamsAsync(cancellationToken).ConfigureAwait(false);
        var now = time.GetUtcNow();
        foreach (var gone in _states.Keys.Except(streams.Select(s => s.StreamId)).ToList())
        {
            _states.TryRemove(gone, out _);
        }

        foreach (var stream in streams.Where(s => s.Status == StreamStatus.Enabled))
        {
            var state = _states.GetOrAdd(stream.StreamId, _ => new StreamState());
            if (state.Running.IsCompleted && now >= state.NextAttemptAt)
            {
                state.Running = Task.Run(() => DeliverAsync(stream, state, cancellationToken), CancellationToken.None);
            }
        }

        if (now >= _nextTrim)
        {
            _nextTrim = now + TrimInterval;
            foreach (var stream in streams)
            {
                var dropped = await outbox.TrimAsync(stream.StreamId, now - settings.Retention, cancellationToken).ConfigureAwait(false);
                if (dropped > 0)
                {
                    metrics.Failed(stream.Owner, "expired", dropped);
                    LogExpired(log, dropped, stream.StreamId, settings.Retention);
                    await AuditDroppedAsync(stream, null, $"{dropped} SET(s) older than the retention of {settings.Retention} were dropped undelivered").ConfigureAwait(false);
                }
            }
        }
    }

    private async Task DeliverAsync(SignalStream stream, StreamState state, CancellationToken cancellationToken)
    {
        try
        {
            // Batches until the stream is empty or a push fails; the claim lasts long enough for a whole batch of timeouts.
            var claimFor = settings.PushTimeout * (Math.Ceiling((double)settings.MaxBatch / settings.MaxParallelPushes) + 2);
            while (!cancellationToken.IsCancellationRequested)
            {
                var batch = await outbox.ClaimAsync(stream.StreamId, settings.MaxBatch, time.GetUtcNow(), claimFor, cancellationToken).ConfigureAwait(false);
                if (batch.Count == 0 || !await DeliverBatchAsync(stream, state, batch, cancellationToken).ConfigureAwait(false) || batch.Count < settings.MaxBatch)
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogLoopFailed(log, ex);
        }
    }

    /// <summary>Pushes one claimed batch; false when any push must be retried (the stream then backs off).</summary>
    private async Task<bool> DeliverBatchAsync(SignalStream stream, StreamState state, IReadOnlyList<PendingSignal> batch, CancellationToken cancellationToken)
    {
        var results = new PushResult[batch.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, batch.Count),
            new ParallelOptions { MaxDegreeOfParallelism = settings.MaxParallelPushes, CancellationToken = cancellationToken },
            async (i, ct) => results[i] = await pusher.PushAsync(stream, tokens.Sign(batch[i], time.GetUtcNow()), ct).ConfigureAwait(false)).ConfigureAwait(false);

        var now = time.GetUtcNow();
        var done = new List<string>(batch.Count);
        var retry = new List<string>();
        string? lastError = null;
        for (var i = 0; i < batch.Count; i++)
        {
            switch (results[i].Outcome)
            {
                case PushOutcome.Delivered:
                    done.Add(batch[i].Id);
                    metrics.Delivered(stream.Owner, now - batch[i].EventTimestamp);
                    break;
                case PushOutcome.Dropped:
                    done.Add(batch[i].Id);
                    metrics.Failed(stream.Owner, "dropped");
                    LogDropped(log, batch[i].Id, stream.StreamId, results[i].Detail);
                    await AuditDroppedAsync(stream, batch[i], $"SET {batch[i].Id} refused by the receiver: {results[i].Detail}").ConfigureAwait(false);
                    break;
                default:
                    retry.Add(batch[i].Id);
                    lastError = results[i].Detail;
                    break;
            }
        }

        if (done.Count > 0)
        {
            await outbox.AcknowledgeAsync(stream.StreamId, done, now, CancellationToken.None).ConfigureAwait(false);
        }

        if (retry.Count == 0)
        {
            state.Failures = 0;
            return true;
        }

        state.Failures++;
        state.NextAttemptAt = now + _backoff.DelayFor(state.Failures);
        metrics.Failed(stream.Owner, "retried", retry.Count);
        LogRetrying(log, retry.Count, stream.StreamId, lastError!, state.Failures, state.NextAttemptAt);
        await outbox.RetryLaterAsync(stream.StreamId, retry, state.NextAttemptAt, lastError!, now, CancellationToken.None).ConfigureAwait(false);
        return false;
    }

    private async Task AuditDroppedAsync(SignalStream stream, PendingSignal? signal, string detail)
    {
        try
        {
            await audit.AppendAsync(new AuditEvent
            {
                Type = AuditEventTypes.SignalDropped, LeaseId = signal?.EventType == SignalEventTypes.SessionRevoked ? signal.Subject : null,
                Actor = stream.Owner, Detail = $"stream {stream.StreamId}: {detail}",
            }, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogAuditFailed(log, stream.StreamId, ex);
        }
    }

    private sealed class StreamState
    {
        public Task Running { get; set; } = Task.CompletedTask;

        public int Failures { get; set; }

        public DateTimeOffset NextAttemptAt { get; set; }
    }

    [LoggerMessage(EventId = 150, EventName = "SsfDeliveryLoopFailed", Level = LogLevel.Warning,
        Message = "The Shared Signals delivery pass failed; it is retried on the next poll")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 151, EventName = "SsfSetDropped", Level = LogLevel.Warning,
        Message = "SET {SetId} on stream {StreamId} was refused by its receiver ({Detail}); it is not sent again")]
    private static partial void LogDropped(ILogger logger, string setId, string streamId, string detail);

    [LoggerMessage(EventId = 152, EventName = "SsfDeliveryRetrying", Level = LogLevel.Warning,
        Message = "{Count} SET(s) on stream {StreamId} not delivered ({Error}); attempt {Failures} failed, next at {NextAttemptAt:O}")]
    private static partial void LogRetrying(ILogger logger, int count, string streamId, string error, int failures, DateTimeOffset nextAttemptAt);

    [LoggerMessage(EventId = 153, EventName = "SsfSetsExpired", Level = LogLevel.Error,
        Message = "{Count} SET(s) on stream {StreamId} were older than the retention of {Retention} and were dropped undelivered")]
    private static partial void LogExpired(ILogger logger, int count, string streamId, TimeSpan retention);

    [LoggerMessage(EventId = 154, EventName = "SsfAuditFailed", Level = LogLevel.Error,
        Message = "The ssf.set_dropped record of stream {StreamId} could not be written")]
    private static partial void LogAuditFailed(ILogger logger, string streamId, Exception exception);
}
