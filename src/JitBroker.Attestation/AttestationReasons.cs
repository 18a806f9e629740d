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

    /// <summary>
    /// Not JWS compact serialization: wrong segment count, bad base64url, not JSON objects, duplicate members,
    /// or header or payload not strictly valid UTF-8 (invalid or overlong bytes, escaped lone surrogates).
    /// </summary>
    public const string Malformed = "token.malformed";

    /// <summary><c>alg</c> missing or not one of RS/ES/PS 256/384/512 (so never <c>none</c> or HS*).</summary>
    public const string AlgNotAllowed = "token.alg_not_allowed";

    /// <summary>A header other than <c>alg</c>, <c>kid</c>, <c>typ</c> (including <c>crit</c>, <c>jku</c>, <c>x5u</c>, <c>b64</c>).</summary>
    public const string HeaderNotAllowed = "token.header_not_allowed";

    /// <summary><c>typ</c> present and not exactly <c>JWT</c> or <c>JOSE</c>.</summary>
    public const string TypNotAllowed = "token.typ_not_allowed";

    /// <summary>No <c>kid</c> header (required by this broker; bundle keys always carry one).</summary>
    public const string KidMissing = "token.kid_missing";

    /// <summary>
    /// <c>sub</c> missing or not a string; for a JWT-SVID not a strictly valid workload SPIFFE ID, for an OIDC
    /// token empty, longer than 1024 characters or containing control characters.
    /// </summary>
    public const string SubInvalid = "token.sub_invalid";

    /// <summary>No trust bundle is configured for the SVID's trust domain.</summary>
    public const string TrustDomainUnknown = "token.trust_domain_unknown";

    /// <summary>
    /// The keys of the token's trust domain (bundle endpoint) or OIDC issuer (JWKS) have never been fetched
    /// successfully: its tokens are refused until they are (fail closed).
    /// </summary>
    public const string BundleUnavailable = "token.bundle_unavailable";

    /// <summary>The trust domain's bundle (or the issuer's JWKS) holds no usable signing key: every token of it is invalid.</summary>
    public const string BundleEmpty = "token.bundle_empty";

    /// <summary>The <c>kid</c> names no key of the SVID's own trust domain bundle (or the issuer's JWKS), also after the rate-limited refresh.</summary>
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

    /// <summary>OIDC: <c>iss</c> missing, not a string, or not exactly one of the configured issuers.</summary>
    public const string IssuerUnknown = "token.issuer_unknown";

    /// <summary>OIDC: <c>sub</c> matches none of the issuer's configured subject patterns.</summary>
    public const string SubNotAllowed = "token.sub_not_allowed";

    /// <summary>Both a bearer token and a client certificate were presented: the broker does not guess which one speaks for the caller.</summary>
    public const string EvidenceAmbiguous = "evidence.ambiguous";

    /// <summary>mTLS: no client certificate was presented.</summary>
    public const string CertificateMissing = "x509.certificate_missing";

    /// <summary>mTLS: the certificate or its extensions cannot be parsed (for example two SAN extensions).</summary>
    public const string CertificateMalformed = "x509.malformed";

    /// <summary>mTLS: the leaf does not carry exactly one URI SAN (X509-SVID §2).</summary>
    public const string UriSanInvalid = "x509.uri_san_invalid";

    /// <summary>mTLS: the URI SAN is not a strictly valid SPIFFE ID with a non-root path (X509-SVID §3.1, §5.2).</summary>
    public const string SpiffeIdInvalid = "x509.spiffe_id_invalid";

    /// <summary>mTLS: no X.509 bundle is configured for the leaf's trust domain.</summary>
    public const string X509TrustDomainUnknown = "x509.trust_domain_unknown";

    /// <summary>mTLS: the leaf's validity period ended (beyond the leeway).</summary>
    public const string CertificateExpired = "x509.expired";

    /// <summary>mTLS: the leaf's validity period has not begun (beyond the leeway).</summary>
    public const string CertificateNotYetValid = "x509.not_yet_valid";

    /// <summary>mTLS: the chain does not build to a CA certificate of the bundle of the leaf's own trust domain.</summary>
    public const string CertificateUntrusted = "x509.untrusted";

    /// <summary>mTLS: the leaf is a CA certificate (basicConstraints cA true), so it may not authenticate (X509-SVID §4.1, §5.2).</summary>
    public const string LeafIsCa = "x509.leaf_is_ca";

    /// <summary>mTLS: key usage lacks digitalSignature, sets keyCertSign/cRLSign, or extended key usage excludes clientAuth (X509-SVID §4.3, §4.4).</summary>
    public const string KeyUsageInvalid = "x509.key_usage_invalid";
}
