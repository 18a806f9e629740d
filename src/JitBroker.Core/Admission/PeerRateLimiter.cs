using System.Collections.Concurrent;

namespace JitBroker.Core.Admission;

/// <summary>
/// A token bucket per peer, taken before anything about a call is attested, so a flood from one address costs the
/// broker a dictionary lookup per call rather than a token validation. A call that attests gives its token back
/// (<see cref="Refund"/>): only failed attestations drain a bucket, so agents sharing an address (NAT, a proxy, a
/// benchmark) are not throttled by their own success, while a peer sending garbage is refused before attestation.
/// Time comes from <see cref="TimeProvider"/> (refill is computed on use, no timers). Thread-safe.
/// </summary>
public sealed class PeerRateLimiter
{
    /// <summary>The bucket peers share once <see cref="AdmissionOptions.MaxTrackedPeers"/> busy peers are tracked.</summary>
    public const string OverflowPeer = "*";

    private readonly ConcurrentDictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly double _perSecond;
    private readonly int _burst;
    private readonly int _maxPeers;

    public PeerRateLimiter(AdmissionOptions options, TimeProvider time)
    {
        _time = time;
        _perSecond = options.PeerFailuresPerSecond;
        _burst = options.PeerBurst;
        _maxPeers = options.MaxTrackedPeers;
    }

    /// <summary>Peers tracked now (bounded by <see cref="AdmissionOptions.MaxTrackedPeers"/> plus the shared bucket).</summary>
    public int TrackedPeers => _buckets.Count;

    /// <summary>Takes one call's token from <paramref name="peer"/>'s bucket; false when the peer is over its rate.</summary>
    public bool TryAcquire(string peer)
    {
        var now = _time.GetTimestamp();
        if (!_buckets.TryGetValue(peer, out var bucket))
        {
            if (_buckets.Count >= _maxPeers)
            {
                ForgetIdle(now);
            }

            // Factories with an argument, not lambdas capturing 'now': a capture allocated its closure on every call,
            // found bucket or not.
            bucket = _buckets.GetOrAdd(_buckets.Count >= _maxPeers ? OverflowPeer : peer,
                static (_, start) => new Bucket(start.Burst, start.Now), (Burst: _burst, Now: now));
        }

        return bucket.TryTake(now, _perSecond, _burst, _time);
    }

    /// <summary>Gives back the token of a call that did not fail attestation.</summary>
    public void Refund(string peer)
    {
        if (_buckets.TryGetValue(peer, out var bucket) || _buckets.TryGetValue(OverflowPeer, out bucket))
        {
            bucket.Refund(_burst);
        }
    }

    // A bucket that has refilled completely holds no state worth keeping: dropping it changes no answer.
    private void ForgetIdle(long now)
    {
        foreach (var (peer, bucket) in _buckets)
        {
            if (peer != OverflowPeer && bucket.IsFull(now, _perSecond, _burst, _time))
            {
                _buckets.TryRemove(peer, out _);
            }
        }
    }

    private sealed class Bucket(double tokens, long at)
    {
        private readonly Lock _gate = new();
        private double _tokens = tokens;
        private long _at = at;

        public bool TryTake(long now, double perSecond, int burst, TimeProvider time)
        {
            lock (_gate)
            {
                Refill(now, perSecond, burst, time);
                if (_tokens < 1)
                {
                    return false;
                }

                _tokens -= 1;
                return true;
            }
        }

        public void Refund(int burst)
        {
            lock (_gate)
            {
                _tokens = Math.Min(burst, _tokens + 1);
            }
        }

        public bool IsFull(long now, double perSecond, int burst, TimeProvider time)
        {
            lock (_gate)
            {
                Refill(now, perSecond, burst, time);
                return _tokens >= burst;
            }
        }

        private void Refill(long now, double perSecond, int burst, TimeProvider time)
        {
            if (now > _at)
            {
                _tokens = Math.Min(burst, _tokens + time.GetElapsedTime(_at, now).TotalSeconds * perSecond);
                _at = now;
            }
        }
    }
}
