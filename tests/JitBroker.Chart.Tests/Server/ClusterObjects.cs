using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace JitBroker.Chart.Tests.Server;

/// <summary>
/// What the test's "cluster" holds: the Secrets and ConfigMaps a values file refers to (created by the
/// operator before <c>helm install</c>, as docs/deployment.md says), by name and key.
/// </summary>
internal sealed class ClusterObjects
{
    public Dictionary<string, Dictionary<string, string>> Secrets { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, Dictionary<string, string>> ConfigMaps { get; } = new(StringComparer.Ordinal);

    public ECDsa SigningKey { get; } = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    /// <summary>The audit checkpoint key, apart from the token key (auditSigningKey's Secret).</summary>
    public ECDsa AuditSigningKey { get; } = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    /// <summary>A PEM CA certificate (the cluster CA, Vault's CA).</summary>
    public static string CaCertificatePem(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        var now = DateTimeOffset.UnixEpoch.AddYears(55); // fixed dates: no wall clock needed for a file that is only parsed
        using var certificate = request.CreateSelfSigned(now, now.AddYears(20));
        return certificate.ExportCertificatePem();
    }

    /// <summary>A SPIFFE bundle (JWK Set) with one JWT-SVID key, as SPIRE's bundle notifier writes it.</summary>
    public static string SpiffeBundleJson()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var p = key.ExportParameters(includePrivateParameters: false);
        return new StringBuilder()
            .Append("{\"spiffe_sequence\":1,\"spiffe_refresh_hint\":300,\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"use\":\"jwt-svid\",\"kid\":\"k1\",")
            .Append("\"x\":\"").Append(Base64Url(p.Q.X!)).Append("\",\"y\":\"").Append(Base64Url(p.Q.Y!)).Append("\"}]}")
            .ToString();
    }

    public static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public void AddSecret(string name, string key, string value) => Add(Secrets, name, key, value);

    public void AddConfigMap(string name, string key, string value) => Add(ConfigMaps, name, key, value);

    private static void Add(Dictionary<string, Dictionary<string, string>> store, string name, string key, string value)
    {
        if (!store.TryGetValue(name, out var data))
        {
            store[name] = data = new Dictionary<string, string>(StringComparer.Ordinal);
        }

        data[key] = value;
    }
}
