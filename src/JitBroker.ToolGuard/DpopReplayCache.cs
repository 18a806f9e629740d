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
/// <remarks>The size is checked on every proof, so the table is a <see cref="CountedMap{TValue}"/>.</remarks>
internal sealed class DpopReplayCache(IOptions<ToolGuardOptions> options, TimeProvider time) : IDpopReplayStore
{
    private readonly CountedMap<DateTimeOffset> _seen = new();
    private readonly int _capacity = options.Value.DpopReplayCacheSize;
    private int _sweeping;

    public int Count => _seen.Count;

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

        return ValueTask.FromResult(_seen.TryAdd(key, keepUntil));
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
            _seen.RemoveWhere(until => until < now);
        }
        finally
        {
            Volatile.Write(ref _sweeping, 0);
        }
    }
}
