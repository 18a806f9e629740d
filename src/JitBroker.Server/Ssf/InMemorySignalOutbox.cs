namespace JitBroker.Server.Ssf;

/// <summary>The embedded outbox: one process, so one lock over plain collections. Lost on restart, like the embedded ledger.</summary>
public sealed class InMemorySignalOutbox : ISignalOutbox
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, SignalStream> _streams = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Queue> _queues = new(StringComparer.Ordinal);

    public Task PutStreamAsync(SignalStream stream, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            _streams[stream.StreamId] = stream;
        }

        return Task.CompletedTask;
    }

    public Task<SignalStream?> GetStreamAsync(string streamId, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return Task.FromResult(_streams.GetValueOrDefault(streamId));
        }
    }

    public Task<IReadOnlyList<SignalStream>> ListStreamsAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<SignalStream>>([.. _streams.Values.OrderBy(s => s.StreamId, StringComparer.Ordinal)]);
        }
    }

    public Task<bool> DeleteStreamAsync(string streamId, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            _queues.Remove(streamId);
            return Task.FromResult(_streams.Remove(streamId));
        }
    }

    public Task EnqueueAsync(IReadOnlyList<PendingSignal> signals, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            foreach (var s in signals)
            {
                var q = QueueOf(s.StreamId);
                q.Items.TryAdd(s.Id, new Entry(s, s.EnqueuedAt, q.NextSequence++));
            }
        }

        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<PendingSignal>> ClaimAsync(string streamId, int max, DateTimeOffset now, TimeSpan claimFor, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (!_queues.TryGetValue(streamId, out var q))
            {
                return Task.FromResult<IReadOnlyList<PendingSignal>>([]);
            }

            var claimed = q.Items.Values.Where(e => e.DueAt <= now).OrderBy(e => e.DueAt).ThenBy(e => e.Sequence).Take(max).ToList();
            foreach (var e in claimed)
            {
                q.Items[e.Signal.Id] = e with { DueAt = now + claimFor };
            }

            return Task.FromResult<IReadOnlyList<PendingSignal>>([.. claimed.Select(e => e.Signal)]);
        }
    }

    public Task AcknowledgeAsync(string streamId, IReadOnlyList<string> ids, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var q = QueueOf(streamId);
            foreach (var id in ids)
            {
                q.Items.Remove(id);
            }

            q.LastDeliveredAt = now;
        }

        return Task.CompletedTask;
    }

    public Task RetryLaterAsync(string streamId, IReadOnlyList<string> ids, DateTimeOffset dueAt, string error, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var q = QueueOf(streamId);
            foreach (var id in ids)
            {
                if (q.Items.TryGetValue(id, out var e))
                {
                    q.Items[id] = e with { Signal = e.Signal with { Attempts = e.Signal.Attempts + 1 }, DueAt = dueAt };
                }
            }

            (q.LastError, q.LastErrorAt) = (error, now);
        }

        return Task.CompletedTask;
    }

    public Task<int> TrimAsync(string streamId, DateTimeOffset enqueuedBefore, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (!_queues.TryGetValue(streamId, out var q))
            {
                return Task.FromResult(0);
            }

            var old = q.Items.Values.Where(e => e.Signal.EnqueuedAt < enqueuedBefore).Select(e => e.Signal.Id).ToList();
            foreach (var id in old)
            {
                q.Items.Remove(id);
            }

            return Task.FromResult(old.Count);
        }
    }

    public Task<SignalQueueStats> StatsAsync(string streamId, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (!_queues.TryGetValue(streamId, out var q))
            {
                return Task.FromResult(new SignalQueueStats(0, null, null, null, null));
            }

            DateTimeOffset? oldest = q.Items.Count == 0 ? null : q.Items.Values.Min(e => e.Signal.EnqueuedAt);
            return Task.FromResult(new SignalQueueStats(q.Items.Count, oldest, q.LastError, q.LastErrorAt, q.LastDeliveredAt));
        }
    }

    private Queue QueueOf(string streamId)
    {
        if (!_queues.TryGetValue(streamId, out var q))
        {
            _queues[streamId] = q = new Queue();
        }

        return q;
    }

    /// <summary>The sequence keeps claims oldest-first among items due at the same time.</summary>
    private sealed record Entry(PendingSignal Signal, DateTimeOffset DueAt, long Sequence);

    private sealed class Queue
    {
        public Dictionary<string, Entry> Items { get; } = new(StringComparer.Ordinal);

        public long NextSequence { get; set; }

        public string? LastError { get; set; }

        public DateTimeOffset? LastErrorAt { get; set; }

        public DateTimeOffset? LastDeliveredAt { get; set; }
    }
}
