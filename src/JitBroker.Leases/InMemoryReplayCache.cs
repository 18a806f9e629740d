using JitBroker.Core;

namespace JitBroker.Leases;

/// <summary>
/// The embedded replay cache: one process, gone on restart. Entries are forgotten once their keep-until time
/// (by the injected clock) has passed; expired entries are pruned as calls come in, so memory follows the
/// number of live entries.
/// </summary>
public sealed class InMemoryReplayCache : IReplayCache
{
    /// <summary>Shortest time any use is remembered, even when <c>keepUntil</c> has already passed: a replay racing the expiry is still caught.</summary>
    public static readonly TimeSpan MinimumRetention = TimeSpan.FromSeconds(1);

    private readonly Lock _gate = new();
    private readonly Dictionary<string, (string Binding, DateTimeOffset Until)> _entries = new(StringComparer.Ordinal);
    private readonly PriorityQueue<string, DateTimeOffset> _expiries = new();
    private readonly TimeProvider _time;

    public InMemoryReplayCache(TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
    }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _entries.Count;
            }
        }
    }

    public ValueTask<ReplayVerdict> CheckAndRecordAsync(string replayKey, string binding, DateTimeOffset keepUntil, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(replayKey);
        ArgumentNullException.ThrowIfNull(binding);
        cancellationToken.ThrowIfCancellationRequested();
        var now = _time.GetUtcNow();
        var until = keepUntil > now + MinimumRetention ? keepUntil : now + MinimumRetention;
        lock (_gate)
        {
            Prune(now);
            if (_entries.TryGetValue(replayKey, out var seen))
            {
                return ValueTask.FromResult(string.Equals(seen.Binding, binding, StringComparison.Ordinal) ? ReplayVerdict.SameBinding : ReplayVerdict.Replayed);
            }

            _entries[replayKey] = (binding, until);
            _expiries.Enqueue(replayKey, until);
            return ValueTask.FromResult(ReplayVerdict.FirstUse);
        }
    }

    private void Prune(DateTimeOffset now)
    {
        while (_expiries.TryPeek(out var key, out var until) && until <= now)
        {
            _expiries.Dequeue();
            if (_entries.TryGetValue(key, out var entry) && entry.Until <= now)
            {
                _entries.Remove(key);
            }
        }
    }
}
