using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

namespace JitBroker.Attestation;

/// <summary>
/// The X.509 authorities (CA certificates) of one trust domain, as of one load of its bundle file: the
/// trust anchors an X.509-SVID of that trust domain must chain to. Immutable; a reload swaps it whole.
/// </summary>
internal sealed class X509Authorities(X509Certificate2Collection certificates)
{
    private const int MaxFileBytes = 1024 * 1024;

    public X509Certificate2Collection Certificates { get; } = certificates;

    /// <summary>Reads PEM certificates or a SPIFFE bundle (X509-SVID §6.2); only CA certificates are kept.</summary>
    public static (X509Authorities? Value, string? Problem) Load(string path)
    {
        try
        {
            if (new FileInfo(path).Length > MaxFileBytes)
            {
                return (null, $"larger than {MaxFileBytes} bytes");
            }

            var text = File.ReadAllText(path);
            var all = text.TrimStart().StartsWith('{') ? FromSpiffeBundle(text) : FromPem(text);
            var authorities = new X509Certificate2Collection();
            foreach (var certificate in all)
            {
                if (certificate.Extensions.OfType<X509BasicConstraintsExtension>().Any(b => b.CertificateAuthority))
                {
                    authorities.Add(certificate);
                }
            }

            return authorities.Count == 0
                ? (null, "it holds no CA certificate (basicConstraints cA true)")
                : (new X509Authorities(authorities), null);
        }
        catch (Exception e) when (e is CryptographicException or JsonException or FormatException or InvalidOperationException)
        {
            return (null, "its certificates cannot be read");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return (null, $"it cannot be read ({e.GetType().Name})");
        }
    }

    private static X509Certificate2Collection FromPem(string text)
    {
        var collection = new X509Certificate2Collection();
        collection.ImportFromPem(text);
        return collection;
    }

    private static X509Certificate2Collection FromSpiffeBundle(string json)
    {
        using var document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
        var collection = new X509Certificate2Collection();
        if (document.RootElement.ValueKind != JsonValueKind.Object
            || !document.RootElement.TryGetProperty("keys", out var keys) || keys.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidOperationException("not a SPIFFE bundle");
        }

        foreach (var jwk in keys.EnumerateArray())
        {
            // X509-SVID §6.2: entries with use x509-svid; the first x5c value is the CA certificate, the rest are ignored.
            if (jwk.ValueKind == JsonValueKind.Object && JsonStrict.OptionalString(jwk, "use") == "x509-svid"
                && jwk.TryGetProperty("x5c", out var x5c) && x5c.ValueKind == JsonValueKind.Array && x5c.GetArrayLength() > 0
                && x5c[0].ValueKind == JsonValueKind.String)
            {
                collection.Add(X509CertificateLoader.LoadCertificate(Convert.FromBase64String(x5c[0].GetString()!)));
            }
        }

        return collection;
    }
}
