namespace JitBroker.Attestation;

/// <summary>
/// The token-signing keys of one trust domain (its JWT-SVID keys) or one OIDC issuer (its JWKS), as of one
/// load. Immutable: a reload builds a new instance and swaps it in whole, so a request sees either the old
/// key set or the new one.
/// </summary>
internal sealed class TrustBundle
{
    public TrustBundle(string trustDomain, IReadOnlyDictionary<string, BundleKey> keys, IReadOnlyList<string> skipped, long? sequence, TimeSpan? refreshHint = null)
    {
        RefreshHint = refreshHint;
        TrustDomain = trustDomain;
        Keys = keys;
        Skipped = skipped;
        Sequence = sequence;
    }

    public string TrustDomain { get; }

    /// <summary>Usable JWT-SVID keys by <c>kid</c>. Empty means every SVID of the trust domain is invalid.</summary>
    public IReadOnlyDictionary<string, BundleKey> Keys { get; }

    /// <summary>Why JWT-SVID-looking entries were ignored (for a start-up/reload warning); never key material.</summary>
    public IReadOnlyList<string> Skipped { get; }

    /// <summary><c>spiffe_sequence</c>, when the bundle carries one.</summary>
    public long? Sequence { get; }

    /// <summary><c>spiffe_refresh_hint</c>, when the bundle carries a positive one (SPIFFE bundle §4.1.2).</summary>
    public TimeSpan? RefreshHint { get; }

    public bool IsEmpty => Keys.Count == 0;
}

/// <summary>How a key set document is read.</summary>
internal enum KeySetProfile
{
    /// <summary>A SPIFFE bundle: only keys with <c>use</c> = <c>jwt-svid</c> count; <c>spiffe_refresh_hint</c> is read.</summary>
    SpiffeBundle,

    /// <summary>An OIDC issuer's JWKS (RFC 7517): keys with <c>use</c> = <c>sig</c> or no <c>use</c> count.</summary>
    OidcJwks,
}

/// <summary>A bundle file that is not a SPIFFE bundle at all; the message names the problem, never key material.</summary>
internal sealed class BundleFormatException(string message) : Exception(message);
