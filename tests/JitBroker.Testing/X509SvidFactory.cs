using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace JitBroker.Testing;

/// <summary>
/// Builds X.509-SVID chains for tests with <see cref="CertificateRequest"/>: a trust domain CA (self-signed,
/// cA true, keyCertSign, URI SAN <c>spiffe://td</c>) and leaves with a SPIFFE URI SAN, ECDSA P-256 keys.
/// Every leaf property the X509-SVID spec constrains can be bent through <see cref="LeafSpec"/>, so hostile
/// certificates are one lambda away. Certificates carry their private keys (usable as TLS client certificates).
/// </summary>
public static class X509SvidFactory
{
    public const string ServerAuthOid = "1.3.6.1.5.5.7.3.1";
    public const string ClientAuthOid = "1.3.6.1.5.5.7.3.2";

    /// <summary>What a leaf carries; the defaults make a valid X.509-SVID.</summary>
    public sealed class LeafSpec
    {
        /// <summary>URI SANs written verbatim (no URI normalisation), in order.</summary>
        public List<string> UriSans { get; } = [];

        /// <summary>
        /// URI SANs whose IA5String content is these exact bytes (written after <see cref="UriSans"/>): hostile
        /// tests need non-ASCII, invalid and overlong UTF-8 that no string spells.
        /// </summary>
        public List<byte[]> RawUriSans { get; } = [];

        /// <summary>DNS SANs (allowed in an SVID besides the one URI SAN).</summary>
        public List<string> DnsSans { get; } = [];

        /// <summary>basicConstraints cA; a valid leaf has false.</summary>
        public bool CertificateAuthority { get; set; }

        /// <summary>Key usage (critical); null leaves the extension out.</summary>
        public X509KeyUsageFlags? KeyUsage { get; set; } = X509KeyUsageFlags.DigitalSignature;

        /// <summary>Extended key usage OIDs; null leaves the extension out.</summary>
        public List<string>? ExtendedKeyUsages { get; set; } = [ServerAuthOid, ClientAuthOid];
    }

    /// <summary>A self-signed trust domain CA valid from <paramref name="notBefore"/> to <paramref name="notAfter"/>.</summary>
    public static X509Certificate2 CreateCa(string trustDomain, DateTimeOffset notBefore, DateTimeOffset notAfter, string? subjectName = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subjectName ?? $"O={trustDomain}, CN=SPIFFE CA", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(SubjectAltName(["spiffe://" + trustDomain], [], [], critical: false));
        return request.CreateSelfSigned(notBefore, notAfter);
    }

    /// <summary>A leaf for <paramref name="spiffeId"/> issued by <paramref name="ca"/>; <paramref name="customize"/> bends it.</summary>
    public static X509Certificate2 CreateLeaf(X509Certificate2 ca, string spiffeId, DateTimeOffset notBefore, DateTimeOffset notAfter, Action<LeafSpec>? customize = null)
    {
        var spec = new LeafSpec();
        spec.UriSans.Add(spiffeId);
        customize?.Invoke(spec);

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("O=SPIFFE", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(spec.CertificateAuthority, false, 0, true));
        if (spec.KeyUsage is { } usage)
        {
            request.CertificateExtensions.Add(new X509KeyUsageExtension(usage, true));
        }

        if (spec.ExtendedKeyUsages is { } ekus)
        {
            var oids = new OidCollection();
            foreach (var oid in ekus)
            {
                oids.Add(new Oid(oid));
            }

            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(oids, false));
        }

        if (spec.UriSans.Count + spec.RawUriSans.Count + spec.DnsSans.Count > 0)
        {
            request.CertificateExtensions.Add(SubjectAltName(spec.UriSans, spec.RawUriSans, spec.DnsSans, critical: false));
        }

        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F; // positive
        using var issued = request.Create(ca, notBefore, notAfter, serial);
        return issued.CopyWithPrivateKey(key);
    }

    /// <summary>PEM of the certificates (public parts only), for bundle files.</summary>
    public static string ToPem(params X509Certificate2[] certificates)
    {
        var pem = new StringBuilder();
        foreach (var certificate in certificates)
        {
            pem.Append(certificate.ExportCertificatePem()).Append('\n');
        }

        return pem.ToString();
    }

    /// <summary>Writes <see cref="ToPem"/> of <paramref name="certificates"/> to <paramref name="path"/> and returns the path.</summary>
    public static string WritePemFile(string path, params X509Certificate2[] certificates)
    {
        File.WriteAllText(path, ToPem(certificates));
        return path;
    }

    /// <summary>A SPIFFE bundle (JSON) whose <c>x509-svid</c> entries carry <paramref name="certificates"/> in <c>x5c</c> (X509-SVID §6.1).</summary>
    public static string ToSpiffeBundleJson(params X509Certificate2[] certificates)
    {
        var keys = certificates.Select(c => $$"""{"use":"x509-svid","kty":"EC","x5c":["{{Convert.ToBase64String(c.RawData)}}"]}""");
        return $$"""{"spiffe_sequence":1,"keys":[{{string.Join(",", keys)}}]}""";
    }

    private static X509Extension SubjectAltName(IEnumerable<string> uris, IEnumerable<byte[]> rawUris, IEnumerable<string> dnsNames, bool critical)
    {
        // Written by hand: SubjectAlternativeNameBuilder.AddUri normalises through System.Uri, and hostile
        // tests need the exact bytes (upper-case hosts, odd paths).
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            foreach (var dns in dnsNames)
            {
                writer.WriteCharacterString(UniversalTagNumber.IA5String, dns, new Asn1Tag(TagClass.ContextSpecific, 2));
            }

            foreach (var uri in uris)
            {
                writer.WriteCharacterString(UniversalTagNumber.IA5String, uri, new Asn1Tag(TagClass.ContextSpecific, 6));
            }

            foreach (var raw in rawUris)
            {
                // [6] IMPLICIT IA5String is primitive: the same encoding as an octet string with that tag.
                writer.WriteOctetString(raw, new Asn1Tag(TagClass.ContextSpecific, 6));
            }
        }

        return new X509Extension("2.5.29.17", writer.Encode(), critical);
    }
}
