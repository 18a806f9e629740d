using Microsoft.Extensions.Logging;

namespace JitBroker.Attestation;

/// <summary>Log events of this component (EventIds 2000-2099). Tokens and keys never appear: fingerprints only.</summary>
internal static partial class AttestationLog
{
    [LoggerMessage(EventId = 2001, EventName = "TrustBundleLoaded", Level = LogLevel.Information,
        Message = "Trust bundle for {TrustDomain} loaded from {Path}: {KeyCount} JWT-SVID key(s), sequence {Sequence}, reload {Reload}")]
    public static partial void BundleLoaded(ILogger logger, string trustDomain, string path, int keyCount, long? sequence, bool reload);

    [LoggerMessage(EventId = 2002, EventName = "TrustBundleReloadFailed", Level = LogLevel.Warning,
        Message = "Trust bundle for {TrustDomain} changed on disk but {Path} is not a valid SPIFFE bundle ({Problem}); keeping the previous keys")]
    public static partial void BundleReloadFailed(ILogger logger, string trustDomain, string path, string problem);

    [LoggerMessage(EventId = 2003, EventName = "TrustBundleKeySkipped", Level = LogLevel.Warning,
        Message = "Trust bundle for {TrustDomain} ({Path}): {Detail}")]
    public static partial void BundleKeySkipped(ILogger logger, string trustDomain, string path, string detail);

    [LoggerMessage(EventId = 2004, EventName = "TrustBundleEmpty", Level = LogLevel.Warning,
        Message = "Trust bundle for {TrustDomain} ({Path}) holds no usable JWT-SVID key: every JWT-SVID of this trust domain will be refused")]
    public static partial void BundleEmpty(ILogger logger, string trustDomain, string path);

    [LoggerMessage(EventId = 2010, EventName = "JwtSvidRejected", Level = LogLevel.Information,
        Message = "JWT-SVID {Fingerprint} rejected: {Reason} (trust domain {TrustDomain})")]
    public static partial void SvidRejected(ILogger logger, string fingerprint, string reason, string? trustDomain);

    [LoggerMessage(EventId = 2011, EventName = "JwtSvidAccepted", Level = LogLevel.Debug,
        Message = "JWT-SVID {Fingerprint} accepted for {SpiffeId} (kid {KeyId}, {Algorithm})")]
    public static partial void SvidAccepted(ILogger logger, string fingerprint, string spiffeId, string keyId, string algorithm);
}
