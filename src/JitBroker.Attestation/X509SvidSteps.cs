using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using JitBroker.Core;
using static JitBroker.Attestation.TokenValidationContext;

namespace JitBroker.Attestation;

/// <summary>State of one X.509-SVID validation; nothing here outlives the request.</summary>
internal sealed class X509SvidContext(X509Certificate2 leaf, DateTimeOffset now)
{
    public X509Certificate2 Leaf { get; } = leaf;

    public DateTimeOffset Now { get; } = now;

    public SpiffeId? SpiffeId { get; set; }

    public X509Authorities? Authorities { get; set; }
}

/// <summary>One check on a presented X.509-SVID; steps run in a fixed order and the first failure ends validation.</summary>
internal interface IX509SvidStep
{
    void Validate(X509SvidContext context);
}

/// <summary>Step 1: exactly one URI SAN (X509-SVID §2), a strictly valid SPIFFE ID with a non-root path (§3.1, §5.2).</summary>
internal sealed class UriSanStep : IX509SvidStep
{
    private const string SubjectAltNameOid = "2.5.29.17";
    private static readonly Asn1Tag UriTag = new(TagClass.ContextSpecific, 6);

    public void Validate(X509SvidContext context)
    {
        var sans = context.Leaf.Extensions.Where(e => e.Oid?.Value == SubjectAltNameOid).ToList();
        if (sans.Count > 1)
        {
            throw Reject(Reasons.Attestation.CertificateMalformed, "The client certificate has more than one subjectAltName extension.");
        }

        var uris = sans.Count == 0 ? [] : ReadUris(sans[0].RawData);
        if (uris.Count != 1)
        {
            throw Reject(Reasons.Attestation.UriSanInvalid, $"An X.509-SVID carries exactly one URI SAN; the client certificate has {uris.Count}.");
        }

        if (!SpiffeId.TryParse(uris[0], out var id, out var error))
        {
            throw Reject(Reasons.Attestation.SpiffeIdInvalid, $"The client certificate's URI SAN is not a valid SPIFFE ID: {error}.");
        }

        if (id.Path.Length == 0)
        {
            throw Reject(Reasons.Attestation.SpiffeIdInvalid, "The client certificate's SPIFFE ID must name a workload, not a bare trust domain.");
        }

        context.SpiffeId = id;
    }

    private static List<string> ReadUris(byte[] extension)
    {
        try
        {
            var reader = new AsnReader(extension, AsnEncodingRules.DER);
            var names = reader.ReadSequence();
            reader.ThrowIfNotEmpty();
            var uris = new List<string>();
            while (names.HasData)
            {
                if (names.PeekTag().HasSameClassAndValue(UriTag))
                {
                    uris.Add(names.ReadCharacterString(UniversalTagNumber.IA5String, UriTag));
                }
                else
                {
                    names.ReadEncodedValue();
                }
            }

            return uris;
        }
        catch (AsnContentException)
        {
            throw Reject(Reasons.Attestation.CertificateMalformed, "The client certificate's subjectAltName extension is not valid DER.");
        }
    }
}

/// <summary>Step 2: the authorities are those configured for the leaf's own trust domain.</summary>
internal sealed class X509TrustDomainStep(IReadOnlyDictionary<string, ReloadingFile<X509Authorities>> bundles) : IX509SvidStep
{
    public void Validate(X509SvidContext context)
    {
        var trustDomain = context.SpiffeId!.Value.TrustDomain;
        context.Authorities = bundles.TryGetValue(trustDomain, out var bundle)
            ? bundle.Current
            : throw Reject(Reasons.Attestation.X509TrustDomainUnknown, $"Trust domain '{trustDomain}' has no X.509 bundle on this broker.");
    }
}

/// <summary>Step 3: the leaf is within its validity period, give or take the leeway.</summary>
internal sealed class ValidityStep(TimeSpan leeway) : IX509SvidStep
{
    public void Validate(X509SvidContext context)
    {
        if (context.Now >= NotAfter(context.Leaf) + leeway)
        {
            throw Reject(Reasons.Attestation.CertificateExpired, "The client certificate has expired.");
        }

        if (context.Now + leeway < NotBefore(context.Leaf))
        {
            throw Reject(Reasons.Attestation.CertificateNotYetValid, "The client certificate is not valid yet.");
        }
    }

    public static DateTimeOffset NotBefore(X509Certificate2 certificate) => new(certificate.NotBefore.ToUniversalTime(), TimeSpan.Zero);

    public static DateTimeOffset NotAfter(X509Certificate2 certificate) => new(certificate.NotAfter.ToUniversalTime(), TimeSpan.Zero);
}

/// <summary>
/// Step 4: RFC 5280 path validation to the trust domain's authorities only: no system roots, no
/// certificate downloads (AIA fetching would be network I/O an attacker points), revocation as configured.
/// The check time is "now" moved into the leaf's validity window, so the leeway granted above is not taken
/// back by the platform's own time check.
/// </summary>
internal sealed class ChainStep(X509RevocationMode revocationMode) : IX509SvidStep
{
    public void Validate(X509SvidContext context)
    {
        var leaf = context.Leaf;
        var at = context.Now;
        var (notBefore, notAfter) = (ValidityStep.NotBefore(leaf), ValidityStep.NotAfter(leaf));
        if (notAfter - notBefore > TimeSpan.FromSeconds(2))
        {
            // X.509 times have one-second precision and the platform's bounds are not both inclusive: stay strictly inside.
            (notBefore, notAfter) = (notBefore.AddSeconds(1), notAfter.AddSeconds(-1));
        }

        at = at < notBefore ? notBefore : at > notAfter ? notAfter : at;

        using var chain = new X509Chain();
        var policy = chain.ChainPolicy;
        policy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        policy.CustomTrustStore.AddRange(context.Authorities!.Certificates);
        policy.RevocationMode = revocationMode;
        policy.RevocationFlag = X509RevocationFlag.ExcludeRoot;
        policy.DisableCertificateDownloads = true;
        policy.VerificationTime = at.UtcDateTime;
        policy.VerificationTimeIgnored = false;
        bool trusted;
        try
        {
            trusted = chain.Build(leaf);
        }
        catch (CryptographicException)
        {
            trusted = false;
        }

        foreach (var element in chain.ChainElements)
        {
            if (!ReferenceEquals(element.Certificate, leaf))
            {
                element.Certificate.Dispose();
            }
        }

        if (!trusted)
        {
            throw Reject(Reasons.Attestation.CertificateUntrusted,
                $"The client certificate does not chain to an X.509 authority of trust domain '{context.SpiffeId!.Value.TrustDomain}'.");
        }
    }
}

/// <summary>
/// Step 5: the leaf may authenticate: not a CA (basicConstraints cA false, X509-SVID §4.1), key usage
/// present with digitalSignature and without keyCertSign/cRLSign (§4.3, §5.2), and extended key usage, when
/// present, including clientAuth (§4.4).
/// </summary>
internal sealed class LeafConstraintsStep : IX509SvidStep
{
    private const string ClientAuthOid = "1.3.6.1.5.5.7.3.2";

    public void Validate(X509SvidContext context)
    {
        var extensions = context.Leaf.Extensions;
        if (extensions.OfType<X509BasicConstraintsExtension>().Any(b => b.CertificateAuthority))
        {
            throw Reject(Reasons.Attestation.LeafIsCa, "The client certificate is a CA certificate; only leaf X.509-SVIDs authenticate.");
        }

        var usages = extensions.OfType<X509KeyUsageExtension>().ToList();
        var extendedUsages = extensions.OfType<X509EnhancedKeyUsageExtension>().ToList();
        if (usages.Count > 1 || extendedUsages.Count > 1)
        {
            throw Reject(Reasons.Attestation.CertificateMalformed, "The client certificate repeats a key usage extension.");
        }

        var usage = usages.FirstOrDefault()?.KeyUsages;
        if (usage is not { } flags || !flags.HasFlag(X509KeyUsageFlags.DigitalSignature)
            || (flags & (X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign)) != 0)
        {
            throw Reject(Reasons.Attestation.KeyUsageInvalid, "An X.509-SVID's key usage must include digitalSignature and exclude keyCertSign and cRLSign.");
        }

        var extended = extendedUsages.FirstOrDefault();
        if (extended is not null && !extended.EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>().Any(o => o.Value == ClientAuthOid))
        {
            throw Reject(Reasons.Attestation.KeyUsageInvalid, "The client certificate's extended key usage does not permit client authentication.");
        }
    }
}
