using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace JitBroker.Vault;

/// <summary>
/// The HTTP handler Vault is reached through. With <see cref="VaultOptions.CaCertificatePath"/> set, Vault's
/// certificate must chain to one of the CAs in that PEM bundle — the system roots are not consulted at all
/// (<see cref="X509ChainTrustMode.CustomRootTrust"/>) — and must match the host name; without it the platform's
/// default validation applies.
/// </summary>
public static class VaultTls
{
    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");

    public static SocketsHttpHandler CreateHandler(VaultOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = options.Timeout,
            // Re-resolve DNS now and then: Vault behind a Kubernetes Service or a failover record moves.
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            AllowAutoRedirect = false,
            UseCookies = false,
        };

        if (!string.IsNullOrWhiteSpace(options.CaCertificatePath))
        {
            var roots = LoadBundle(options.CaCertificatePath);
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
                IsTrusted(certificate, chain, errors, roots);
        }

        return handler;
    }

    /// <summary>Loads a PEM bundle of CA certificates; throws when the file holds none.</summary>
    public static X509Certificate2Collection LoadBundle(string path)
    {
        var roots = new X509Certificate2Collection();
        try
        {
            roots.ImportFromPemFile(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new InvalidOperationException($"Vault CA bundle '{path}' could not be read: {e.GetType().Name}.", e);
        }

        if (roots.Count == 0)
        {
            throw new InvalidOperationException($"Vault CA bundle '{path}' contains no certificate.");
        }

        return roots;
    }

    /// <summary>Judges a server certificate against <paramref name="roots"/> only.</summary>
    public static bool IsTrusted(System.Security.Cryptography.X509Certificates.X509Certificate? certificate, X509Chain? presented, SslPolicyErrors errors, X509Certificate2Collection roots)
    {
        // A missing certificate or a host-name mismatch is never forgiven; chain errors are re-judged below
        // (the platform judged the chain against the system roots, which is exactly what we do not want).
        if (certificate is null || (errors & (SslPolicyErrors.RemoteCertificateNotAvailable | SslPolicyErrors.RemoteCertificateNameMismatch)) != 0)
        {
            return false;
        }

        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(ServerAuth);
        if (presented is not null)
        {
            // Intermediates the server sent may help build the chain; they are never trusted as roots.
            foreach (var element in presented.ChainElements)
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        return chain.Build(leaf);
    }
}
