using System.Collections.Concurrent;

namespace JitBroker.Core;

/// <summary>
/// Token buckets per key (an agent, or an agent under one rule), on this replica. A bucket starts full; a request
/// takes one token; tokens come back at the rate. Kept in memory on purpose: the check runs on every request before any
/// backend is touched, and a replica's share of an agent's traffic is what it can limit without a round trip (with N
/// replicas an agent can reach N times the rate; the active-lease caps, which are shared, bound what it can hold).
/// </summary>
public sealed class AgentRateLimiter
{
    private readonly ConcurrentDictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly int _maxBuckets;

    public AgentRateLimiter(TimeProvider time, int maxBuckets = 100_000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBuckets, 1);
        _time = time;
        _maxBuckets = maxBuckets;
    }

    /// <summary>Buckets held (for tests and the memory bound).</summary>
    public int Count => _buckets.Count;

    /// <summary>
    /// Takes a token from <paramref name="key"/>'s bucket. Returns null when one was there, else how long until one
    /// will be (the retry hint); a refused request takes nothing, so hammering does not push the hint further out.
    /// </summary>
    public TimeSpan? TryTake(string key, double ratePerSecond, int burst)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ratePerSecond, 0);
        ArgumentOutOfRangeException.ThrowIfLessThan(burst, 1);
        var now = _time.GetTimestamp();
        if (!_buckets.TryGetValue(key, out var bucket))
        {
            if (_buckets.Count >= _maxBuckets)
            {
                DropIdle(now);
            }

            bucket = _buckets.GetOrAdd(key, _ => new Bucket(burst, now));
        }

        lock (bucket)
        {
            var elapsed = _time.GetElapsedTime(bucket.UpdatedAt, now).TotalSeconds;
            bucket.Tokens = Math.Min(burst, bucket.Tokens + Math.Max(0, elapsed) * ratePerSecond);
            bucket.UpdatedAt = now;
            bucket.Rate = ratePerSecond;
            bucket.Burst = burst;
            if (bucket.Tokens >= 1)
            {
                bucket.Tokens -= 1;
                return null;
            }

            // Rounded up to a whole millisecond so a client that waits exactly the hint finds a token.
            return TimeSpan.FromMilliseconds(Math.Ceiling((1 - bucket.Tokens) / ratePerSecond * 1000));
        }
    }

    // A bucket that has refilled completely is indistinguishable from a new one: dropping it forgets nothing. If
    // every bucket is busy (a flood of distinct agents), the map may grow past the bound until they refill; each
    // agent is attested, so the count of distinct keys is bounded by the identities the trust domains issue.
    private void DropIdle(long now)
    {
        foreach (var (key, bucket) in _buckets)
        {
            lock (bucket)
            {
                if (bucket.Tokens + _time.GetElapsedTime(bucket.UpdatedAt, now).TotalSeconds * bucket.Rate >= bucket.Burst)
                {
                    _buckets.TryRemove(new KeyValuePair<string, Bucket>(key, bucket));
                }
            }
        }
    }

    private sealed class Bucket(double tokens, long updatedAt)
    {
        public double Tokens { get; set; } = tokens;

        public long UpdatedAt { get; set; } = updatedAt;

        public double Rate { get; set; }

        public int Burst { get; set; } = (int)tokens;
    }
}
