namespace JitBroker.Issuance;

/// <summary>When a <see cref="ScheduledRotationSigningKeyProvider"/> rotates, announces and retires keys.</summary>
public sealed record KeyRotationSchedule(TimeSpan Interval, TimeSpan PublishAhead, TimeSpan RetainAfterRetirement)
{
    /// <summary>
    /// Problems, one sentence each. <paramref name="jwksCacheLifetime"/> is how long relying parties may cache the JWKS
    /// (the endpoint's max-age); <paramref name="longestTokenLifetime"/> is the maximum TTL plus the relying parties' clock skew.
    /// </summary>
    public IEnumerable<string> Validate(TimeSpan jwksCacheLifetime, TimeSpan longestTokenLifetime)
    {
        if (PublishAhead < jwksCacheLifetime)
        {
            yield return "PublishAhead must be at least the JWKS cache lifetime, or a relying party meets a token whose key it has not fetched.";
        }

        if (RetainAfterRetirement < longestTokenLifetime)
        {
            yield return "RetainAfterRetirement must be at least the longest token lifetime plus clock skew, or live tokens stop verifying.";
        }

        if (Interval <= PublishAhead || Interval < TimeSpan.FromMinutes(1))
        {
            yield return "Interval must be at least 1 minute and longer than PublishAhead.";
        }
    }
}

/// <summary>
/// Generated task-JWT keys that rotate by themselves on <see cref="KeyRotationSchedule.Interval"/>, driven by the
/// injected clock: the next key is generated and published (in <see cref="VerificationKeys"/>, hence the JWKS)
/// <see cref="KeyRotationSchedule.PublishAhead"/> before it signs anything, and a retired key stays published for
/// <see cref="KeyRotationSchedule.RetainAfterRetirement"/> after its last signature, so every token it signed can
/// still be verified until it expires. Keys live in memory only (see docs/deployment.md, "Signing key").
/// Thread-safe; the provider owns its keys.
/// </summary>
public sealed class ScheduledRotationSigningKeyProvider : ISigningKeyProvider, IDisposable
{
    private readonly KeyRotationSchedule _schedule;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly List<Entry> _entries = [];

    public ScheduledRotationSigningKeyProvider(SigningKey first, KeyRotationSchedule schedule, TimeProvider time)
    {
        if (!first.CanSign)
        {
            throw new ArgumentException("The first key must be able to sign.", nameof(first));
        }

        _schedule = schedule;
        _time = time;
        var now = time.GetUtcNow();
        _entries.Add(new Entry(first, PublishedAt: now, SignsFrom: now));
    }

    public SigningKey Current
    {
        get
        {
            lock (_gate)
            {
                var now = Advance();
                return _entries.Last(e => e.SignsFrom <= now).Key;
            }
        }
    }

    public IReadOnlyList<SigningKey> VerificationKeys
    {
        get
        {
            lock (_gate)
            {
                var now = Advance();
                var current = _entries.Last(e => e.SignsFrom <= now);
                // Current first (the JWKS order relying parties see), then the announced next key, then retired keys.
                return [current.Key, .. _entries.Where(e => e != current).OrderByDescending(e => e.SignsFrom).Select(e => e.Key)];
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var entry in _entries)
            {
                entry.Key.Dispose();
            }

            _entries.Clear();
        }
    }

    // Brings the key set up to the clock: announce the next key when its publication is due, then drop keys whose
    // retention after retirement has passed. Several intervals may have passed since the last call.
    private DateTimeOffset Advance()
    {
        var now = _time.GetUtcNow();
        while (_entries[^1].SignsFrom + _schedule.Interval - _schedule.PublishAhead <= now)
        {
            var signsFrom = _entries[^1].SignsFrom + _schedule.Interval;
#pragma warning disable CA2000 // owned by _entries from here on; disposed with the provider
            _entries.Add(new Entry(SigningKey.Generate(), PublishedAt: signsFrom - _schedule.PublishAhead, SignsFrom: signsFrom));
#pragma warning restore CA2000
        }

        // A key signs until its successor takes over; it is kept for RetainAfterRetirement after that instant.
        for (var i = _entries.Count - 2; i >= 0; i--)
        {
            if (_entries[i + 1].SignsFrom + _schedule.RetainAfterRetirement <= now)
            {
                // Dropped, not disposed: a verifier may still hold an earlier VerificationKeys snapshot (the key's
                // SafeHandle is released when it is collected).
                _entries.RemoveAt(i);
            }
        }

        return now;
    }

    private sealed record Entry(SigningKey Key, DateTimeOffset PublishedAt, DateTimeOffset SignsFrom);
}
