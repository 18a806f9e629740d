namespace JitBroker.Attestation;

/// <summary>
/// The verified-token cache of one token attestor (<c>…:JwtSvid:VerifiedTokenCache</c>, <c>…:Oidc:VerifiedTokenCache</c>).
/// On by default: a hit answers exactly what the verifier would at that instant (time claims re-checked, the same key
/// snapshot required, the same audience), and SPIRE agents re-present one JWT-SVID for minutes, so most calls are hits.
/// See docs/attestation.md "Verified-token cache".
/// </summary>
public sealed class VerifiedTokenCacheOptions
{
    /// <summary>Largest <see cref="MaxEntries"/> accepted (an entry is about 1 KiB: the identity's facts).</summary>
    public const int MaxEntriesLimit = 1_000_000;

    public bool Enabled { get; set; } = true;

    /// <summary>Most tokens remembered; when full, expired and stale entries go first, then those nearest to expiry.</summary>
    public int MaxEntries { get; set; } = 10_000;

    /// <summary>Start-up validation; <paramref name="prefix"/> names the section in messages.</summary>
    public IEnumerable<string> Validate(string prefix)
    {
        if (MaxEntries is < 16 or > MaxEntriesLimit)
        {
            yield return $"{prefix}:MaxEntries must lie between 16 and {MaxEntriesLimit}.";
        }
    }
}
