using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace JitBroker.Attestation;

/// <summary>
/// The HTTP side of fetching keys: which URLs are acceptable, one client per key source, and a bounded GET.
/// No redirects are followed (a bundle endpoint or JWKS is configured by its exact URL, and a redirect is
/// a way to move trust elsewhere); bodies are capped; TLS is web PKI unless a CA file is configured.
/// </summary>
internal static class KeySetHttp
{
    /// <summary>Why <paramref name="value"/> is not an acceptable key URL, or null when it is.</summary>
    public static string? Problem(string? value, bool allowInsecureHttp, out Uri? uri)
    {
        uri = null;
        if (string.IsNullOrWhiteSpace(value) || !Uri.TryCreate(value, UriKind.Absolute, out var parsed))
        {
            return "is not an absolute URL";
        }

        if (parsed.Scheme != Uri.UriSchemeHttps && parsed.Scheme != Uri.UriSchemeHttp)
        {
            return "must be an https:// (or http://) URL";
        }

        if (!string.IsNullOrEmpty(parsed.UserInfo) || !string.IsNullOrEmpty(parsed.Fragment))
        {
            return "must not carry user information or a fragment";
        }

        if (parsed.Scheme == Uri.UriSchemeHttp && !parsed.IsLoopback && !allowInsecureHttp)
        {
            return "uses plain http to a non-loopback host: keys fetched that way can be replaced in flight (use https, or set AllowInsecureHttp for a lab)";
        }

        uri = parsed;
        return null;
    }

    /// <summary>
    /// A client for one key source: the injected handler (tests) or a fresh one that trusts
    /// <paramref name="caCertificatesPath"/> instead of the system roots when given.
    /// </summary>
    public static HttpClient CreateClient(HttpMessageHandler? injected, string? caCertificatesPath, TimeSpan timeout)
    {
        HttpClient client;
        if (injected is not null)
        {
            client = new HttpClient(injected, disposeHandler: false);
        }
        else
        {
            // Roots first: a CA file that cannot be read must not leave a handler behind.
            X509Certificate2Collection? roots = null;
            if (!string.IsNullOrEmpty(caCertificatesPath))
            {
                roots = [];
                roots.ImportFromPemFile(caCertificatesPath);
            }

            #pragma warning disable CA2000 // handed to the HttpClient below with disposeHandler: true; nothing between can throw
            var handler = new SocketsHttpHandler
            #pragma warning restore CA2000
            {
                AllowAutoRedirect = false,
                AutomaticDecompression = DecompressionMethods.None,
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                ConnectTimeout = timeout,
            };
            if (roots is not null)
            {
                handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                    ValidateAgainst(roots, certificate, errors);
            }

            client = new HttpClient(handler, disposeHandler: true);
        }

        client.Timeout = timeout;
        return client;
    }

    /// <summary>GETs <paramref name="uri"/> and returns the body; throws <see cref="KeySetFetchException"/> on a non-200 answer or an oversized body.</summary>
    public static async Task<byte[]> GetAsync(HttpClient client, Uri uri, string? bearerToken, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (bearerToken is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearerToken);
        }

        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new KeySetFetchException($"HTTP {(int)response.StatusCode} from {uri}");
        }

        if (response.Content.Headers.ContentLength > TrustBundleParser.MaxBundleBytes)
        {
            throw new KeySetFetchException($"the document at {uri} is larger than {TrustBundleParser.MaxBundleBytes} bytes");
        }

        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            using var buffer = new MemoryStream();
            var chunk = new byte[16 * 1024];
            int read;
            while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
            {
                if (buffer.Length + read > TrustBundleParser.MaxBundleBytes)
                {
                    throw new KeySetFetchException($"the document at {uri} is larger than {TrustBundleParser.MaxBundleBytes} bytes");
                }

                buffer.Write(chunk, 0, read);
            }

            return buffer.ToArray();
        }
    }

    private static bool ValidateAgainst(X509Certificate2Collection roots, X509Certificate? certificate, SslPolicyErrors errors)
    {
        // Host name and presence are still checked by the platform; only the chain is judged against our roots.
        if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        return chain.Build(certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
    }
}

/// <summary>A key document could not be fetched or used; the message names the problem, never key material or credentials.</summary>
internal sealed class KeySetFetchException(string message) : Exception(message);
