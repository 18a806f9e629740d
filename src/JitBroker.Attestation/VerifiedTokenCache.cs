using System.Buffers;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using JitBroker.Core;
using Microsoft.Extensions.Logging;

namespace JitBroker.Attestation;

/// <summary>
/// The tokens one attestor has verified, so a re-presented token (SPIRE agents hand out one cached JWT-SVID for minutes)
/// is not verified again. Keyed by the SHA-256 of the token's full bytes together with the audiences the call expects;
/// holds the resulting identity (facts only), never the token. An entry answers only while its answer is what the
/// verifier would say at that instant: the key source of its trust domain or issuer must still serve the very key
/// snapshot that verified it (any reload, rotation or removal drops it), and the time claims are checked against now
/// by the verifier's own rules (<see cref="TokenLifetime"/>). Anything else the verifier checks is a function of the
/// token's bytes and the attestor's fixed configuration. Replay rules are not this cache's business: they run after
/// attestation, on every request. Bounded: when full, stale entries go first, then those nearest to expiry. Thread-safe.
/// </summary>
internal sealed class VerifiedTokenCache
{
    private const int StackHashLimit = 4096;

    private readonly ConcurrentDictionary<Key, Entry> _entries = new();
    private readonly Lock _trimming = new();
    private readonly string _method;
    private readonly int _maxEntries;
    private readonly int _maxTokenLength;
    private readonly TimeSpan _leeway;
    private readonly TimeSpan _maxTokenAge;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private int _count;
    private long _hits;
    private long _misses;
    private long _dropped;
    private long _evicted;

    private VerifiedTokenCache(string method, VerifiedTokenCacheOptions options, int maxTokenLength, TimeSpan leeway, TimeSpan maxTokenAge, TimeProvider time, ILogger log)
    {
        _method = method;
        _maxEntries = options.MaxEntries;
        _maxTokenLength = maxTokenLength;
        _leeway = leeway;
        _maxTokenAge = maxTokenAge;
        _time = time;
        _log = log;
    }

    /// <summary>A cache for an attestor with these lifetime rules, or null when <paramref name="options"/> turn it off.</summary>
    public static VerifiedTokenCache? Create(string method, VerifiedTokenCacheOptions options, int maxTokenLength, TimeSpan leeway,
        TimeSpan maxTokenAge, TimeProvider time, ILogger log) =>
        options.Enabled ? new VerifiedTokenCache(method, options, maxTokenLength, leeway, maxTokenAge, time, log) : null;

    public int Count => Volatile.Read(ref _count);

    public VerifiedTokenCacheCounters Counters =>
        new(Interlocked.Read(ref _hits), Interlocked.Read(ref _misses), Interlocked.Read(ref _dropped), Interlocked.Read(ref _evicted));

    /// <summary>
    /// The identity verified earlier for exactly this token and these expected audiences (null: the attestor's own),
    /// when it still holds now; otherwise null, and <paramref name="key"/> is where to <see cref="Add"/> the verifier's
    /// answer (null when the token is not cacheable: longer than the verifier accepts, or not ASCII, so never valid).
    /// </summary>
    public WorkloadIdentity? TryGet(ReadOnlySpan<char> token, IReadOnlyList<string>? audiences, out Key? key)
    {
        // An oversized token is refused before anything is computed over it; a non-ASCII one cannot be a valid JWS.
        if (token.Length > _maxTokenLength || !Ascii.IsValid(token))
        {
            key = null;
            return null;
        }

        key = Key.Of(token, audiences);
        if (_entries.TryGetValue(key.Value, out var entry))
        {
            if (entry.IsCurrent(_time.GetUtcNow(), _leeway, _maxTokenAge))
            {
                Interlocked.Increment(ref _hits);
                return entry.Identity;
            }

            Remove(key.Value, entry, ref _dropped);
            AttestationLog.TokenCacheDropped(_log, _method, entry.Identity.EvidenceFingerprint);
        }

        Interlocked.Increment(ref _misses);
        return null;
    }

    /// <summary>Remembers what the verifier just answered for <paramref name="context"/>'s token (under <paramref name="key"/> from <see cref="TryGet"/>).</summary>
    public void Add(Key key, WorkloadIdentity identity, TokenValidationContext context)
    {
        var entry = new Entry(identity, context.KeySource!, context.Bundle!, context.Lifetime!.Value);

        // When a concurrent miss on the same token got there first, its entry is an answer of the verifier just as good.
        if (_entries.TryAdd(key, entry) && Interlocked.Increment(ref _count) > _maxEntries)
        {
            Trim();
        }
    }

    /// <summary>Down to 90% of the bound, so a full cache trims once per tenth of its size, not on every insert.</summary>
    private void Trim()
    {
        lock (_trimming)
        {
            if (Count <= _maxEntries)
            {
                return;
            }

            var now = _time.GetUtcNow();
            var live = new List<KeyValuePair<Key, Entry>>(Count);
            foreach (var pair in _entries)
            {
                if (pair.Value.IsCurrent(now, _leeway, _maxTokenAge))
                {
                    live.Add(pair);
                }
                else
                {
                    Remove(pair.Key, pair.Value, ref _dropped);
                }
            }

            var target = _maxEntries - (_maxEntries / 10);
            var evicted = 0;
            live.Sort(static (a, b) => a.Value.Lifetime.Expires.CompareTo(b.Value.Lifetime.Expires));
            for (var i = 0; i < live.Count && Count > target; i++)
            {
                evicted += Remove(live[i].Key, live[i].Value, ref _evicted) ? 1 : 0;
            }

            AttestationLog.TokenCacheTrimmed(_log, _method, evicted, Count);
        }
    }

    private bool Remove(Key key, Entry entry, ref long counter)
    {
        if (!_entries.TryRemove(new KeyValuePair<Key, Entry>(key, entry)))
        {
            return false; // someone else removed it (and counted it)
        }

        Interlocked.Decrement(ref _count);
        Interlocked.Increment(ref counter);
        return true;
    }

    /// <summary>SHA-256 of the token's full bytes (never a prefix, never its <c>jti</c>) plus the expected audiences.</summary>
    internal readonly record struct Key(UInt128 Low, UInt128 High, string? Audiences)
    {
        public static Key Of(ReadOnlySpan<char> asciiToken, IReadOnlyList<string>? audiences)
        {
            byte[]? rented = null;
            Span<byte> bytes = asciiToken.Length <= StackHashLimit
                ? stackalloc byte[asciiToken.Length]
                : (rented = ArrayPool<byte>.Shared.Rent(asciiToken.Length));
            try
            {
                var length = Encoding.ASCII.GetBytes(asciiToken, bytes);
                Span<byte> hash = stackalloc byte[32];
                SHA256.HashData(bytes[..length], hash);
                return new Key(BitConverter.ToUInt128(hash[..16]), BitConverter.ToUInt128(hash[16..]), AudienceKey(audiences));
            }
            finally
            {
                if (rented is not null)
                {
                    ArrayPool<byte>.Shared.Return(rented);
                }
            }
        }

        /// <summary>
        /// The token's fingerprint (<see cref="Fingerprints.Of(string)"/>) from this key's digest: a key exists only for an
        /// ASCII token, whose ASCII bytes are its UTF-8 bytes, so the verifier need not hash the token a second time.
        /// </summary>
        public string Fingerprint()
        {
            Span<byte> digest = stackalloc byte[32];
            BitConverter.TryWriteBytes(digest, Low);
            BitConverter.TryWriteBytes(digest[16..], High);
            return Fingerprints.FromDigest(digest);
        }

        // Length-prefixed, so no two audience lists share a key (["a\nb"] is not ["a", "b"]).
        private static string? AudienceKey(IReadOnlyList<string>? audiences) =>
            audiences is null ? null : string.Concat(audiences.Select(a => $"{a.Length}:{a}"));
    }

    private sealed record Entry(WorkloadIdentity Identity, IKeySource Source, TrustBundle Bundle, TokenLifetime Lifetime)
    {
        // The snapshot is compared by reference: key sets are immutable and replaced whole on every reload or fetch.
        public bool IsCurrent(DateTimeOffset now, TimeSpan leeway, TimeSpan maxTokenAge) =>
            ReferenceEquals(Source.Current, Bundle) && Lifetime.Problem(now, leeway, maxTokenAge) is null;
    }
}

/// <summary>Lookups answered from the cache (hits) or not (misses); entries dropped because they no longer held (stale) or evicted to stay bounded.</summary>
internal readonly record struct VerifiedTokenCacheCounters(long Hits, long Misses, long Dropped, long Evicted);
