using System.Security.Cryptography.X509Certificates;

namespace JitBroker.Core;

/// <summary>
/// What the caller presented to prove its identity. Transports fill this in; attestors read it.
/// Holds the raw bearer token only for the duration of the call: it is never stored or logged.
/// </summary>
public sealed class AttestationEvidence
{
    private readonly ReadOnlyMemory<char> _bearer;
    private string? _bearerString;

    public AttestationEvidence(string? bearerToken, X509Certificate2? clientCertificate = null, string? peer = null, string? proofKeyThumbprint = null)
        : this(bearerToken is not null, bearerToken.AsMemory(), clientCertificate, peer, proofKeyThumbprint)
    {
        _bearerString = bearerToken;
    }

    private AttestationEvidence(bool hasBearer, ReadOnlyMemory<char> bearer, X509Certificate2? clientCertificate, string? peer, string? proofKeyThumbprint)
    {
        HasBearerToken = hasBearer;
        _bearer = bearer;
        ClientCertificate = clientCertificate;
        Peer = peer;
        ProofKeyThumbprint = proofKeyThumbprint;
    }

    /// <summary>
    /// Evidence whose bearer token is <paramref name="length"/> characters of <paramref name="text"/> from
    /// <paramref name="start"/> (the transport's authorization header after its scheme), so the token is not copied out
    /// of it on every call: the attestors verify and hash the slice itself. A string, so the characters cannot change
    /// between the routing peek, the cache lookup and the verification.
    /// </summary>
    public static AttestationEvidence WithBearerSlice(string text, int start, int length, X509Certificate2? clientCertificate, string? peer) =>
        new(true, text.AsMemory(start, length), clientCertificate, peer, null);

    /// <summary>Whether a bearer token was presented (it may be empty: "Bearer" followed only by spaces).</summary>
    public bool HasBearerToken { get; }

    /// <summary>The bearer token's characters (empty when none was presented).</summary>
    public ReadOnlyMemory<char> BearerTokenMemory => _bearer;

    /// <summary>
    /// The RFC 7638 thumbprint (base64url SHA-256, 43 characters) of the key whose DPoP proof (RFC 9449) the transport
    /// validated for this call, or null. Attestors never read it; admission copies it onto the attested identity
    /// (<see cref="WorkloadIdentity.ProofKeyThumbprint"/>) so the credential is bound to that key (<c>cnf.jkt</c>).
    /// </summary>
    public string? ProofKeyThumbprint { get; }

    /// <summary>The caller's network address as the transport saw it (not attested); failures are counted per peer.</summary>
    public string? Peer { get; }

    /// <summary>The bearer token as a string, copied from the slice on first use; null when none was presented.</summary>
    public string? BearerToken => HasBearerToken ? _bearerString ??= _bearer.ToString() : null;

    public X509Certificate2? ClientCertificate { get; }

    /// <summary>
    /// The audiences a bearer token must name instead of the attestor's configured one, or null for the configured one.
    /// The OAuth token endpoint sets its issuer and token endpoint URL: RFC 7523 §3 requires an assertion to name the
    /// authorization server it is presented to, so a token minted for the gRPC door is not accepted there, nor the reverse.
    /// </summary>
    public IReadOnlyList<string>? Audiences { get; init; }

    /// <summary>The agent id the caller says it is (OAuth <c>client_id</c> with <c>tls_client_auth</c>, RFC 8705 §2.1): attestation must establish exactly this id.</summary>
    public string? ClaimedAgentId { get; init; }

    public override string ToString() =>
        $"AttestationEvidence(bearer={(HasBearerToken ? "present" : "none")}, cert={(ClientCertificate is null ? "none" : "present")}, dpop={(ProofKeyThumbprint is null ? "none" : "present")})";
}

/// <summary>
/// Facts an attestor established about a caller. Facts only: whether the caller may do anything is the
/// policy engine's decision, never the attestor's.
/// </summary>
public sealed record WorkloadIdentity
{
    /// <summary>The agent id: a SPIFFE ID (<c>spiffe://td/path</c>) or an OIDC subject qualified by issuer.</summary>
    public required string Id { get; init; }

    /// <summary>SPIFFE trust domain, or the OIDC issuer for non-SPIFFE identities.</summary>
    public required string TrustDomain { get; init; }

    /// <summary>How the identity was attested: <c>jwt-svid</c>, <c>oidc</c>, <c>x509-svid</c>.</summary>
    public required string Method { get; init; }

    /// <summary>Additional verified claims the policy may match (namespace, service account, issuer…).</summary>
    /// <remarks>None unless the attestor sets them: one shared empty, read-only dictionary, not a mutable one per identity.</remarks>
    public IReadOnlyDictionary<string, string> Facts { get; init; } = System.Collections.ObjectModel.ReadOnlyDictionary<string, string>.Empty;

    /// <summary>When the presented evidence stops being valid.</summary>
    public DateTimeOffset? EvidenceExpiresAt { get; init; }

    /// <summary>The evidence's own id (JWT <c>jti</c>), when it has one.</summary>
    public string? EvidenceId { get; init; }

    /// <summary>SHA-256 fingerprint of the presented evidence; safe to log and audit.</summary>
    public required string EvidenceFingerprint { get; init; }

    /// <summary>
    /// The key under which the replay cache remembers this evidence: <c>(iss, jti)</c> when the token has a
    /// <c>jti</c>, else a fingerprint of the signed content (header.payload, so re-encoding the signature does
    /// not make a "new" token). Null means the evidence is not replayable in the token sense (mTLS).
    /// </summary>
    public string? ReplayKey { get; init; }

    /// <summary>Base64url SHA-256 thumbprint of the client certificate (x5t#S256) when attested over mTLS.</summary>
    public string? CertificateThumbprint { get; init; }

    /// <summary>
    /// RFC 7638 thumbprint of the DPoP proof key the caller proved possession of on this call (RFC 9449), set by admission
    /// from <see cref="AttestationEvidence.ProofKeyThumbprint"/>, never by an attestor. A credential minted for this
    /// identity carries it as <c>cnf.jkt</c>.
    /// </summary>
    public string? ProofKeyThumbprint { get; init; }

    /// <summary>Rejects empty or malformed attestor output at the boundary, so no attestor bug becomes an identity.</summary>
    public void EnsureWellFormed()
    {
        if (string.IsNullOrWhiteSpace(Id) || string.IsNullOrWhiteSpace(TrustDomain) ||
            string.IsNullOrWhiteSpace(Method) || string.IsNullOrWhiteSpace(EvidenceFingerprint))
        {
            throw new InvalidOperationException("An attestor returned an incomplete workload identity.");
        }
    }
}

/// <summary>
/// Turns evidence into a <see cref="WorkloadIdentity"/>. Implementations are registered by
/// <see cref="Method"/>; zero or more may be configured.
/// </summary>
public interface IWorkloadAttestor
{
    /// <summary>Attestation method name, unique among registered attestors, for example <c>jwt-svid</c>.</summary>
    string Method { get; }

    /// <summary>
    /// True when this attestor is responsible for the evidence (a cheap, unverified look, used only to
    /// route). Responsibility never implies validity.
    /// </summary>
    bool Accepts(AttestationEvidence evidence);

    /// <summary>
    /// Verifies the evidence. Throws <see cref="BrokerException"/> with
    /// <see cref="BrokerFailure.Unauthenticated"/> and a stable reason code on any failure.
    /// </summary>
    ValueTask<WorkloadIdentity> AttestAsync(AttestationEvidence evidence, CancellationToken cancellationToken = default);
}
