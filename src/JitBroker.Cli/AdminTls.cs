using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace JitBroker.Cli;

/// <summary>
/// TLS for the admin channel only: an optional client certificate (for an admin listener that requires one,
/// <c>JitBroker:Listen:AdminClientCaPath</c>) and an optional CA bundle the listener's server certificate must
/// chain to instead of the system roots. The client certificate is a transport requirement; the bearer identity
/// still decides what the caller may do. Errors name files, never their contents.
/// </summary>
internal static class AdminTls
{
    private const string ServerAuthOid = "1.3.6.1.5.5.7.3.1";

    public static SocketsHttpHandler Handler(string? certPath, string? keyPath, string? caPath)
    {
        var ssl = new SslClientAuthenticationOptions();
        if (certPath is not null || keyPath is not null)
        {
            if (certPath is null || keyPath is null)
            {
                throw new UsageException("--admin-client-cert and --admin-client-key go together.");
            }

            ssl.ClientCertificateContext = ClientCertificate(certPath, keyPath);
        }

        if (caPath is not null)
        {
            var cas = LoadCertificates(caPath, "admin CA file");
            ssl.RemoteCertificateValidationCallback = (_, presented, chain, errors) => ChainsTo(presented, chain, errors, cas);
        }

        return new SocketsHttpHandler
        {
            SslOptions = ssl,
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
        };
    }

    /// <summary>The leaf with its key, plus any further certificates in the file sent as intermediates.</summary>
    private static SslStreamCertificateContext ClientCertificate(string certPath, string keyPath)
    {
        X509Certificate2 leaf;
        try
        {
            #pragma warning disable CA2000 // the leaf is owned by the returned SslStreamCertificateContext for the process lifetime
            leaf = X509Certificate2.CreateFromPemFile(certPath, keyPath);
            #pragma warning restore CA2000
            if (OperatingSystem.IsWindows())
            {
                // SChannel cannot use an ephemeral key: round-trip through PKCS#12 in memory.
                using var ephemeral = leaf;
                leaf = X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pkcs12), null);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            throw new UsageException($"admin client certificate '{certPath}' with key '{keyPath}' could not be loaded ({ex.GetType().Name}: {ex.Message}).");
        }

        if (!leaf.HasPrivateKey)
        {
            leaf.Dispose();
            throw new UsageException($"admin client key '{keyPath}' does not match certificate '{certPath}'.");
        }

        var intermediates = new X509Certificate2Collection(
            LoadCertificates(certPath, "admin client certificate").Where(c => !c.RawDataMemory.Span.SequenceEqual(leaf.RawDataMemory.Span)).ToArray());
        return SslStreamCertificateContext.Create(leaf, intermediates, offline: true);
    }

    private static X509Certificate2Collection LoadCertificates(string path, string what)
    {
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPemFile(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            throw new UsageException($"{what} '{path}' could not be read ({ex.GetType().Name}: {ex.Message}).");
        }

        return certificates.Count > 0 ? certificates : throw new UsageException($"{what} '{path}' holds no PEM certificate.");
    }

    /// <summary>The server certificate must name the host (hostname check kept) and chain to the given CAs, never the system roots.</summary>
    private static bool ChainsTo(X509Certificate? presented, X509Chain? offered, SslPolicyErrors errors, X509Certificate2Collection cas)
    {
        if (presented is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable) || errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            return false;
        }

        var certificate = presented as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(presented.GetRawCertData());
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(cas);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid(ServerAuthOid));
        if (offered is not null)
        {
            foreach (var element in offered.ChainElements)
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        return chain.Build(certificate);
    }
}
