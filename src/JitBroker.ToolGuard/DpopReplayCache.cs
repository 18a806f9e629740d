using System.Collections.Concurrent;
using JitBroker.OAuth;
using Microsoft.Extensions.Options;

namespace JitBroker.ToolGuard;

/// <summary>
/// In-memory, bounded DPoP replay cache of one tool instance (RFC 9449 §11.1). A proof is remembered until it could no
/// longer pass the iat window. When the cache is full of live entries a new proof is refused rather than forgotten:
/// forgetting would let a replay through (fail closed). Replicas of one tool behind a balancer each keep their own, so
/// a proof replayed at another replica is caught only by its own short window, unless <see cref="DistributedDpopReplayStore"/>
/// (<see cref="DpopReplayCacheMode.Distributed"/>) shares them; docs/toolguard.md says so.
/// </summary>
/// <remarks>
/// The size is a counter of its own: <c>ConcurrentDictionary.Count</c> takes every lock of the map (up to 1,024 once it
/// has grown), too much to pay on every proof (the broker's revocation memory had that cost: docs/benchmarks.md).
/// </remarks>
internal sealed class DpopReplayCache(IOptions<ToolGuardOptions> options, TimeProvider time) : IDpopReplayStore
{
    private readonly ConcurrentDictionary<string, DateTimeOffset> _seen = new(StringComparer.Ordinal);
    private readonly int _capacity = options.Value.DpopReplayCacheSize;
    private int _count;
    private int _sweeping;

    public int Count => Volatile.Read(ref _count);

    public ValueTask<bool> TryRecordAsync(string key, DateTimeOffset keepUntil, CancellationToken cancellationToken = default)
    {
        if (Count >= _capacity)
        {
            Sweep();
            if (Count >= _capacity)
            {
                return ValueTask.FromResult(false);
            }
        }

        if (!_seen.TryAdd(key, keepUntil))
        {
            return ValueTask.FromResult(false);
        }

        Interlocked.Increment(ref _count);
        return ValueTask.FromResult(true);
    }

    private void Sweep()
    {
        if (Interlocked.Exchange(ref _sweeping, 1) == 1)
        {
            return;
        }

        try
        {
            var now = time.GetUtcNow();
            foreach (var (key, until) in _seen)
            {
                if (until < now && _seen.TryRemove(key, out _))
                {
                    Interlocked.Decrement(ref _count);
                }
            }
        }
        finally
        {
            Volatile.Write(ref _sweeping, 0);
        }
    }
}
