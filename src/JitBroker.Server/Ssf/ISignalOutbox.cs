namespace JitBroker.Server.Ssf;

/// <summary>
/// The transmitter's durable state: the streams, and per stream the SETs not yet delivered. Delivery is at-least-once:
/// an item is claimed for a while (<see cref="ClaimAsync"/>); a replica that dies mid-push leaves it to reappear when the
/// claim lapses. Implementations: <see cref="InMemorySignalOutbox"/> (embedded) and <see cref="RedisSignalOutbox"/>
/// (production), both checked by one conformance suite. Every method throws on a backend failure.
/// </summary>
public interface ISignalOutbox
{
    Task PutStreamAsync(SignalStream stream, CancellationToken cancellationToken = default);

    Task<SignalStream?> GetStreamAsync(string streamId, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<SignalStream>> ListStreamsAsync(CancellationToken cancellationToken = default);

    /// <summary>Removes the stream and everything queued for it; false when there was none.</summary>
    Task<bool> DeleteStreamAsync(string streamId, CancellationToken cancellationToken = default);

    /// <summary>Queues signals, each due at once. Returns once they are stored (durably, for Redis: acknowledged by replicas as the ledger's writes are).</summary>
    Task EnqueueAsync(IReadOnlyList<PendingSignal> signals, CancellationToken cancellationToken = default);

    /// <summary>Up to <paramref name="max"/> signals of the stream due at <paramref name="now"/>, oldest first, each now hidden from other claims until <paramref name="now"/> + <paramref name="claimFor"/>.</summary>
    Task<IReadOnlyList<PendingSignal>> ClaimAsync(string streamId, int max, DateTimeOffset now, TimeSpan claimFor, CancellationToken cancellationToken = default);

    /// <summary>Removes delivered (or dropped) signals.</summary>
    Task AcknowledgeAsync(string streamId, IReadOnlyList<string> ids, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>Puts claimed signals back, due at <paramref name="dueAt"/>, with one more attempt and the stream's last error.</summary>
    Task RetryLaterAsync(string streamId, IReadOnlyList<string> ids, DateTimeOffset dueAt, string error, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>Drops signals queued before <paramref name="enqueuedBefore"/> (retention) and returns how many.</summary>
    Task<int> TrimAsync(string streamId, DateTimeOffset enqueuedBefore, CancellationToken cancellationToken = default);

    Task<SignalQueueStats> StatsAsync(string streamId, CancellationToken cancellationToken = default);
}
