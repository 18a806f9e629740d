using Microsoft.Extensions.Logging;

namespace JitBroker.Attestation;

/// <summary>Log events of this component (EventIds 2000-2099). Tokens and keys never appear: fingerprints only.</summary>
internal static partial class AttestationLog
{
    [LoggerMessage(EventId = 2001, EventName = "TrustBundleLoaded", Level = LogLevel.Information,
        Message = "Keys of {Owner} loaded from {Location}: {KeyCount} key(s), sequence {Sequence}, reload {Reload}")]
    public static partial void BundleLoaded(ILogger logger, string owner, string location, int keyCount, long? sequence, bool reload);

    [LoggerMessage(EventId = 2002, EventName = "TrustBundleReloadFailed", Level = LogLevel.Warning,
        Message = "Keys of {Owner} changed on disk but {Location} is not usable ({Problem}); keeping the previous keys")]
    public static partial void BundleReloadFailed(ILogger logger, string owner, string location, string problem);

    [LoggerMessage(EventId = 2003, EventName = "TrustBundleKeySkipped", Level = LogLevel.Warning,
        Message = "Keys of {Owner} ({Location}): {Detail}")]
    public static partial void BundleKeySkipped(ILogger logger, string owner, string location, string detail);

    [LoggerMessage(EventId = 2004, EventName = "TrustBundleEmpty", Level = LogLevel.Warning,
        Message = "Keys of {Owner} ({Location}) hold no usable signing key: every token of it will be refused")]
    public static partial void BundleEmpty(ILogger logger, string owner, string location);

    [LoggerMessage(EventId = 2005, EventName = "KeySetFetched", Level = LogLevel.Information,
        Message = "Keys of {Owner} fetched from {Location}: {KeyCount} key(s), sequence {Sequence}; next refresh in {NextRefreshSeconds} s")]
    public static partial void KeySetFetched(ILogger logger, string owner, string location, int keyCount, long? sequence, double nextRefreshSeconds);

    [LoggerMessage(EventId = 2006, EventName = "KeySetFetchFailed", Level = LogLevel.Warning,
        Message = "Fetching the keys of {Owner} from {Location} failed ({Problem}); {Consequence}; retry in {RetrySeconds} s")]
    public static partial void KeySetFetchFailed(ILogger logger, Exception? exception, string owner, string location, string problem, string consequence, double retrySeconds);

    [LoggerMessage(EventId = 2007, EventName = "KeySetUnknownKeyRefresh", Level = LogLevel.Debug,
        Message = "A token names a key {Owner} does not have: refreshing its keys now")]
    public static partial void UnknownKeyRefresh(ILogger logger, string owner);

    // Rejections are Debug: at Information a flood of garbage tokens grew the log by one line per call. The broker's
    // AttestationFailuresSummarised (1401) reports them once per interval, counted per reason and peer.
    [LoggerMessage(EventId = 2010, EventName = "JwtSvidRejected", Level = LogLevel.Debug,
        Message = "JWT-SVID {Fingerprint} rejected: {Reason} (trust domain {TrustDomain})")]
    public static partial void SvidRejected(ILogger logger, string fingerprint, string reason, string? trustDomain);

    [LoggerMessage(EventId = 2011, EventName = "JwtSvidAccepted", Level = LogLevel.Debug,
        Message = "JWT-SVID {Fingerprint} accepted for {SpiffeId} (kid {KeyId}, {Algorithm})")]
    public static partial void SvidAccepted(ILogger logger, string fingerprint, string spiffeId, string keyId, string algorithm);

    [LoggerMessage(EventId = 2012, EventName = "OidcTokenRejected", Level = LogLevel.Debug,
        Message = "OIDC token {Fingerprint} rejected: {Reason} (issuer {Issuer})")]
    public static partial void OidcRejected(ILogger logger, string fingerprint, string reason, string? issuer);

    [LoggerMessage(EventId = 2013, EventName = "OidcTokenAccepted", Level = LogLevel.Debug,
        Message = "OIDC token {Fingerprint} accepted for {Identity} (kid {KeyId}, {Algorithm})")]
    public static partial void OidcAccepted(ILogger logger, string fingerprint, string identity, string keyId, string algorithm);

    [LoggerMessage(EventId = 2020, EventName = "X509SvidRejected", Level = LogLevel.Debug,
        Message = "X.509-SVID {Fingerprint} rejected: {Reason} (trust domain {TrustDomain})")]
    public static partial void X509Rejected(ILogger logger, string fingerprint, string reason, string? trustDomain);

    [LoggerMessage(EventId = 2021, EventName = "X509SvidAccepted", Level = LogLevel.Debug,
        Message = "X.509-SVID {Fingerprint} accepted for {SpiffeId}")]
    public static partial void X509Accepted(ILogger logger, string fingerprint, string spiffeId);

    [LoggerMessage(EventId = 2022, EventName = "X509BundleLoaded", Level = LogLevel.Information,
        Message = "X.509 bundle of trust domain {TrustDomain} loaded from {Path}: {AuthorityCount} CA certificate(s), reload {Reload}")]
    public static partial void X509BundleLoaded(ILogger logger, string trustDomain, string path, int authorityCount, bool reload);

    [LoggerMessage(EventId = 2023, EventName = "X509BundleReloadFailed", Level = LogLevel.Warning,
        Message = "X.509 bundle of trust domain {TrustDomain} changed on disk but {Path} is not usable ({Problem}); keeping the previous CA certificates")]
    public static partial void X509BundleReloadFailed(ILogger logger, string trustDomain, string path, string problem);

    // Verified-token cache (2030-2049). Hits are Debug like acceptances; the cache's counters are metrics.
    [LoggerMessage(EventId = 2030, EventName = "VerifiedTokenCacheHit", Level = LogLevel.Debug,
        Message = "{Method} token {Fingerprint} accepted for {Identity} from the verified-token cache")]
    public static partial void TokenCacheHit(ILogger logger, string method, string fingerprint, string identity);

    [LoggerMessage(EventId = 2031, EventName = "VerifiedTokenCacheDropped", Level = LogLevel.Debug,
        Message = "{Method} token {Fingerprint} dropped from the verified-token cache: its keys changed or its time claims no longer hold; verifying it again")]
    public static partial void TokenCacheDropped(ILogger logger, string method, string fingerprint);

    [LoggerMessage(EventId = 2032, EventName = "VerifiedTokenCacheTrimmed", Level = LogLevel.Debug,
        Message = "{Method} verified-token cache full: {Evicted} entries nearest to expiry evicted, {Remaining} kept")]
    public static partial void TokenCacheTrimmed(ILogger logger, string method, int evicted, int remaining);

    /// <summary>Reports a (re)loaded key set: the load, each ignored entry, and a warning when nothing usable is left.</summary>
    public static void ReportLoaded(ILogger logger, string owner, string location, TrustBundle bundle, bool reload)
    {
        BundleLoaded(logger, owner, location, bundle.Keys.Count, bundle.Sequence, reload);
        ReportContents(logger, owner, location, bundle);
    }

    public static void ReportContents(ILogger logger, string owner, string location, TrustBundle bundle)
    {
        foreach (var skipped in bundle.Skipped)
        {
            BundleKeySkipped(logger, owner, location, skipped);
        }

        if (bundle.IsEmpty)
        {
            BundleEmpty(logger, owner, location);
        }
    }
}
