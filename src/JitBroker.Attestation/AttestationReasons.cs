namespace JitBroker.Attestation;

/// <summary>
/// Stable reason codes for rejected attestation evidence. Callers, dashboards and tests match on these
/// strings, so a code, once released, never changes meaning. Every one is raised with
/// <see cref="JitBroker.Core.BrokerFailure.Unauthenticated"/>.
/// </summary>
public static class AttestationReasons
{
    /// <summary>No bearer token in the evidence.</summary>
    public const string TokenMissing = "token.missing";

    /// <summary>Longer than <see cref="JwtSvidOptions.MaxTokenLength"/>; nothing was parsed.</summary>
    public const string TooLarge = "token.too_large";

    /// <summary>Five segments: a JWE. Refused before any parser or library sees it (CVE-2024-21319).</summary>
    public const string JweRefused = "token.jwe_refused";

    /// <summary>Not JWS compact serialization: wrong segment count, bad base64url, not JSON objects, duplicate members.</summary>
    public const string Malformed = "token.malformed";

    /// <summary><c>alg</c> missing or not one of RS/ES/PS 256/384/512 (so never <c>none</c> or HS*).</summary>
    public const string AlgNotAllowed = "token.alg_not_allowed";

    /// <summary>A header other than <c>alg</c>, <c>kid</c>, <c>typ</c> (including <c>crit</c>, <c>jku</c>, <c>x5u</c>, <c>b64</c>).</summary>
    public const string HeaderNotAllowed = "token.header_not_allowed";

    /// <summary><c>typ</c> present and not exactly <c>JWT</c> or <c>JOSE</c>.</summary>
    public const string TypNotAllowed = "token.typ_not_allowed";

    /// <summary>No <c>kid</c> header (required by this broker; bundle keys always carry one).</summary>
    public const string KidMissing = "token.kid_missing";

    /// <summary><c>sub</c> missing, not a string, or not a strictly valid workload SPIFFE ID.</summary>
    public const string SubInvalid = "token.sub_invalid";

    /// <summary>No trust bundle is configured for the SVID's trust domain.</summary>
    public const string TrustDomainUnknown = "token.trust_domain_unknown";

    /// <summary>The trust domain's bundle holds no usable JWT-SVID key: every SVID of it is invalid.</summary>
    public const string BundleEmpty = "token.bundle_empty";

    /// <summary>The <c>kid</c> names no JWT-SVID key of the SVID's own trust domain bundle.</summary>
    public const string KidUnknown = "token.kid_unknown";

    /// <summary>The key found by <c>kid</c> cannot verify <c>alg</c> (key type, curve or JWK <c>alg</c> differs).</summary>
    public const string KeyMismatch = "token.key_mismatch";

    /// <summary>The signature does not verify.</summary>
    public const string SignatureInvalid = "token.signature_invalid";

    /// <summary>No <c>exp</c> claim.</summary>
    public const string ExpMissing = "token.exp_missing";

    /// <summary>A registered claim has the wrong JSON type or an out-of-range value.</summary>
    public const string ClaimInvalid = "token.claim_invalid";

    /// <summary><c>exp</c> is in the past (beyond the leeway).</summary>
    public const string Expired = "token.expired";

    /// <summary><c>nbf</c> or <c>iat</c> is in the future (beyond the leeway).</summary>
    public const string NotYetValid = "token.not_yet_valid";

    /// <summary>Issued longer ago than <see cref="JwtSvidOptions.MaxTokenAge"/>, or, without <c>iat</c>, valid for longer than it.</summary>
    public const string TooOld = "token.too_old";

    /// <summary>No <c>aud</c> claim, or an empty one.</summary>
    public const string AudienceMissing = "token.audience_missing";

    /// <summary><c>aud</c> does not contain this broker's audience.</summary>
    public const string AudienceMismatch = "token.audience_mismatch";
}
