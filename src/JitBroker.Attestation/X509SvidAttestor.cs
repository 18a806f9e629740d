using System.Buffers.Text;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using JitBroker.Core;
using Microsoft.Extensions.Logging;

namespace JitBroker.Attestation;

/// <summary>
/// Attests workloads by X.509-SVID presented as the TLS client certificate (method <c>x509-svid</c>). The
/// transport requests the certificate but does not validate it; this attestor does: the chain to the X.509
/// bundle of the trust domain named by the leaf's own SPIFFE ID, exactly one URI SAN, leaf not a CA, key
/// usage per X509-SVID §4.3, validity with leeway. Identity: <c>Id</c> = the SPIFFE ID,
/// <c>CertificateThumbprint</c> = base64url SHA-256 of the leaf's DER (RFC 8705 <c>x5t#S256</c>, for
/// binding minted credentials to the certificate), no replay key (a TLS handshake proves possession of the
/// key anew each time). Accepts evidence with a client certificate and no bearer token only; when both are
/// presented, the token attestors refuse with <see cref="Reasons.Attestation.EvidenceAmbiguous"/>.
/// </summary>
public sealed class X509SvidAttestor : IWorkloadAttestor
{
    public const string MethodName = "x509-svid";

    private readonly TimeProvider _time;
    private readonly ILogger<X509SvidAttestor> _log;
    private readonly IX509SvidStep[] _steps;

    /// <summary>Validates <paramref name="options"/> and loads every bundle; throws <see cref="InvalidOperationException"/> when unusable.</summary>
    public X509SvidAttestor(X509SvidOptions options, TimeProvider time, ILogger<X509SvidAttestor> log)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = options.Validate().ToList();
        if (problems.Count > 0)
        {
            throw new InvalidOperationException("Invalid X.509-SVID attestation options: " + string.Join(" ", problems));
        }

        _time = time;
        _log = log;
        var bundles = options.TrustBundles.ToDictionary(
            pair => pair.Key,
            pair => new ReloadingFile<X509Authorities>(
                pair.Value,
                X509Authorities.Load,
                problem => $"X.509 bundle file '{pair.Value}' for trust domain '{pair.Key}' is not usable: {problem}.",
                (authorities, reload) => AttestationLog.X509BundleLoaded(log, pair.Key, pair.Value, authorities.Certificates.Count, reload),
                problem => AttestationLog.X509BundleReloadFailed(log, pair.Key, pair.Value, problem),
                time),
            StringComparer.Ordinal);

        // Identity (unverified) only picks the bundle; trust comes from the chain; leaf rules come last so
        // nothing about an untrusted certificate beyond its shape is reported.
        _steps =
        [
            new UriSanStep(),
            new X509TrustDomainStep(bundles),
            new ValidityStep(options.Leeway),
            new ChainStep(options.RevocationMode),
            new LeafConstraintsStep(),
        ];
    }

    public string Method => MethodName;

    /// <summary>A client certificate and no bearer token. Presence only: validity is <see cref="AttestAsync"/>'s job.</summary>
    public bool Accepts(AttestationEvidence evidence) => evidence.ClientCertificate is not null && !evidence.HasBearerToken;

    public ValueTask<WorkloadIdentity> AttestAsync(AttestationEvidence evidence, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var leaf = evidence.ClientCertificate
            ?? throw TokenValidationContext.Reject(Reasons.Attestation.CertificateMissing, "No client certificate presented: connect over mutual TLS with an X.509-SVID.");
        if (evidence.HasBearerToken)
        {
            throw TokenValidationContext.Reject(Reasons.Attestation.EvidenceAmbiguous,
                "Both a bearer token and a client certificate were presented; present exactly one identity.");
        }

        var context = new X509SvidContext(leaf, _time.GetUtcNow());
        var fingerprint = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(leaf.RawData));
        try
        {
            foreach (var step in _steps)
            {
                step.Validate(context);
            }
        }
        catch (BrokerException rejected)
        {
            AttestationLog.X509Rejected(_log, fingerprint, rejected.Reason, context.SpiffeId?.TrustDomain);
            throw;
        }
        catch (CryptographicException)
        {
            // An extension the platform cannot decode: the certificate is refused, never an internal error.
            AttestationLog.X509Rejected(_log, fingerprint, Reasons.Attestation.CertificateMalformed, context.SpiffeId?.TrustDomain);
            throw TokenValidationContext.Reject(Reasons.Attestation.CertificateMalformed, "The client certificate cannot be parsed.");
        }

        var id = context.SpiffeId!.Value;
        var spiffeId = id.ToString();
        AttestationLog.X509Accepted(_log, fingerprint, spiffeId);
        return ValueTask.FromResult(new WorkloadIdentity
        {
            Id = spiffeId,
            TrustDomain = id.TrustDomain,
            Method = MethodName,
            Facts = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["spiffe_id"] = spiffeId,
                ["trust_domain"] = id.TrustDomain,
                ["path"] = id.Path,
            },
            EvidenceExpiresAt = ValidityStep.NotAfter(leaf),
            EvidenceFingerprint = fingerprint,
            CertificateThumbprint = Thumbprint(leaf),
            ReplayKey = null,
        });
    }

    /// <summary>RFC 8705 §3.1 <c>x5t#S256</c>: base64url (unpadded) SHA-256 of the certificate's DER encoding.</summary>
    public static string Thumbprint(X509Certificate2 certificate) =>
        Base64Url.EncodeToString(SHA256.HashData(certificate.RawData));
}
