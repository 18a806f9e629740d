namespace JitBroker.Attestation;

/// <summary>
/// How keys fetched over HTTP (SPIFFE bundle endpoints, OIDC JWKS) are kept fresh. Fetching happens in the
/// background; the only fetch a request can cause is the rate-limited unknown-<c>kid</c> refresh, and a
/// request waits for it at most <see cref="UnknownKeyWait"/>.
/// </summary>
public sealed class KeyRefreshOptions
{
    /// <summary>Refresh interval when the document gives no hint (a SPIFFE bundle without <c>spiffe_refresh_hint</c>, any JWKS). SPIFFE bundle §6.2 suggests about five minutes.</summary>
    public TimeSpan DefaultInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>A <c>spiffe_refresh_hint</c> below this is raised to it, so a bundle cannot make the broker poll in a tight loop.</summary>
    public TimeSpan MinInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A <c>spiffe_refresh_hint</c> above this is lowered to it, so a removed (compromised) key does not stay trusted for days.</summary>
    public TimeSpan MaxInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>After a failed fetch, the next attempt comes this much later (or at the refresh interval, if sooner).</summary>
    public TimeSpan RetryInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A token naming an unknown <c>kid</c> triggers a refresh at most once per this interval per trust domain or issuer, so a flood of random kids cannot hammer the endpoint.</summary>
    public TimeSpan UnknownKeyMinInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a request naming an unknown <c>kid</c> waits for the refresh it triggered (or joined) before it is answered with what is known.</summary>
    public TimeSpan UnknownKeyWait { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Time limit of one HTTP fetch (connect, headers and body).</summary>
    public TimeSpan FetchTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Start-up validation; <paramref name="prefix"/> names the section in messages.</summary>
    public IEnumerable<string> Validate(string prefix)
    {
        if (MinInterval < TimeSpan.FromSeconds(1) || MaxInterval < MinInterval || MaxInterval > TimeSpan.FromDays(1))
        {
            yield return $"{prefix}:MinInterval must be at least 1s and MaxInterval between MinInterval and 24h.";
        }

        if (DefaultInterval < MinInterval || DefaultInterval > MaxInterval)
        {
            yield return $"{prefix}:DefaultInterval must lie between MinInterval and MaxInterval.";
        }

        if (RetryInterval < TimeSpan.FromSeconds(1) || RetryInterval > MaxInterval)
        {
            yield return $"{prefix}:RetryInterval must lie between 1s and MaxInterval.";
        }

        if (UnknownKeyMinInterval < TimeSpan.FromSeconds(1) || UnknownKeyMinInterval > TimeSpan.FromHours(1))
        {
            yield return $"{prefix}:UnknownKeyMinInterval must lie between 1s and 1h.";
        }

        if (UnknownKeyWait < TimeSpan.Zero || UnknownKeyWait > TimeSpan.FromSeconds(10))
        {
            yield return $"{prefix}:UnknownKeyWait must lie between 0 and 10s: it is time a request may wait.";
        }

        if (FetchTimeout < TimeSpan.FromSeconds(1) || FetchTimeout > TimeSpan.FromMinutes(2))
        {
            yield return $"{prefix}:FetchTimeout must lie between 1s and 2 minutes.";
        }
    }

    /// <summary>The refresh interval for a document's hint, clamped to [<see cref="MinInterval"/>, <see cref="MaxInterval"/>].</summary>
    internal TimeSpan IntervalFor(TimeSpan? hint)
    {
        var interval = hint ?? DefaultInterval;
        return interval < MinInterval ? MinInterval : interval > MaxInterval ? MaxInterval : interval;
    }
}
