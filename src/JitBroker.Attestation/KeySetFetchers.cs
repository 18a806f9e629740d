using System.Text.Json;
using JitBroker.Core;

namespace JitBroker.Attestation;

/// <summary>Fetches one key document; implementations throw on any failure (the caller keeps the last good keys).</summary>
internal interface IKeySetFetcher : IDisposable
{
    /// <summary>Where the keys come from, for logs (a URL; never a credential).</summary>
    string Location { get; }

    Task<TrustBundle> FetchAsync(CancellationToken cancellationToken = default);
}

/// <summary>A SPIFFE bundle endpoint (SPIFFE bundle §5) authenticated by web PKI (§5.2.1): one GET, a JWK Set with SPIFFE parameters.</summary>
internal sealed class SpiffeBundleFetcher(string trustDomain, Uri url, HttpClient client) : IKeySetFetcher
{
    public string Location => url.ToString();

    public async Task<TrustBundle> FetchAsync(CancellationToken cancellationToken = default)
    {
        var body = await KeySetHttp.GetAsync(client, url, bearerToken: null, cancellationToken).ConfigureAwait(false);
        return TrustBundleParser.TryParse(trustDomain, body, KeySetProfile.SpiffeBundle, out var bundle) is { } problem
            ? throw new KeySetFetchException($"not a valid SPIFFE bundle: {problem}")
            : bundle!;
    }

    public void Dispose() => client.Dispose();
}

/// <summary>
/// An OIDC issuer's keys: the discovery document (OpenID Connect Discovery 1.0 §4) whose <c>issuer</c> must
/// equal the configured issuer exactly (§4.3), then its <c>jwks_uri</c>; or a configured JWKS URL directly.
/// The discovery document is read on every refresh, so a moved <c>jwks_uri</c> is followed.
/// </summary>
internal sealed class OidcJwksFetcher : IKeySetFetcher
{
    private static readonly JsonDocumentOptions JsonOptions = new() { MaxDepth = 16 };

    private readonly string _issuer;
    private readonly Uri? _discovery;
    private readonly Uri? _jwks;
    private readonly bool _allowInsecureHttp;
    private readonly string? _bearerTokenPath;
    private readonly HttpClient _client;

    public OidcJwksFetcher(string issuer, Uri? discovery, Uri? jwks, bool allowInsecureHttp, string? bearerTokenPath, HttpClient client)
    {
        _issuer = issuer;
        _discovery = discovery;
        _jwks = jwks;
        _allowInsecureHttp = allowInsecureHttp;
        _bearerTokenPath = bearerTokenPath;
        _client = client;
    }

    public string Location => (_jwks ?? _discovery)!.ToString();

    public async Task<TrustBundle> FetchAsync(CancellationToken cancellationToken = default)
    {
        // Re-read each time: projected service account tokens are rotated by the kubelet.
        var bearer = _bearerTokenPath is null ? null : (await File.ReadAllTextAsync(_bearerTokenPath, cancellationToken).ConfigureAwait(false)).Trim();
        var jwksUri = _jwks ?? await DiscoverJwksUriAsync(bearer, cancellationToken).ConfigureAwait(false);
        // The credential goes only where the operator pointed it: the configured host, not wherever discovery says.
        var configuredHost = (_jwks ?? _discovery)!;
        var sendBearer = Uri.Compare(jwksUri, configuredHost, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0;
        var body = await KeySetHttp.GetAsync(_client, jwksUri, sendBearer ? bearer : null, cancellationToken).ConfigureAwait(false);
        return TrustBundleParser.TryParse(_issuer, body, KeySetProfile.OidcJwks, out var bundle) is { } problem
            ? throw new KeySetFetchException($"the JWKS at {jwksUri} is not a valid JWK Set: {problem}")
            : bundle!;
    }

    public void Dispose() => _client.Dispose();

    private async Task<Uri> DiscoverJwksUriAsync(string? bearer, CancellationToken cancellationToken)
    {
        var body = await KeySetHttp.GetAsync(_client, _discovery!, bearer, cancellationToken).ConfigureAwait(false);
        if (!StrictUtf8.IsJsonText(body))
        {
            throw new KeySetFetchException("the discovery document is not strictly valid UTF-8");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, JsonOptions);
        }
        catch (JsonException)
        {
            throw new KeySetFetchException("the discovery document is not valid JSON");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !JsonStrict.HasUniqueMembers(root))
            {
                throw new KeySetFetchException("the discovery document is not a JSON object with unique member names");
            }

            // Discovery §4.3: the issuer in the document MUST be identical to the issuer the document was fetched for.
            if (JsonStrict.OptionalString(root, "issuer") is not { } issuer || !string.Equals(issuer, _issuer, StringComparison.Ordinal))
            {
                throw new KeySetFetchException($"the discovery document names a different issuer than '{_issuer}'");
            }

            var problem = KeySetHttp.Problem(JsonStrict.OptionalString(root, "jwks_uri"), _allowInsecureHttp, out var jwksUri);
            return problem is null ? jwksUri! : throw new KeySetFetchException($"the discovery document's jwks_uri {problem}");
        }
    }
}
