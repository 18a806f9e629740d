namespace JitBroker.Server.OAuth;

/// <summary>
/// Every URL of the OAuth door, derived from the issuer identifier (RFC 8414 §2: the metadata's <c>issuer</c> is the
/// tokens' <c>iss</c>). A path in the issuer is a prefix of every endpoint; the RFC 8414 metadata path puts the
/// well-known segment before it (§3.1), the OpenID Connect alias after it.
/// </summary>
public sealed class OAuthUrls
{
    public const string TokenPath = "/oauth2/token";
    public const string IntrospectionPath = "/oauth2/introspect";
    public const string RevocationPath = "/oauth2/revoke";
    public const string JwksPath = "/.well-known/jwks.json";

    public OAuthUrls(string issuer, string? mtlsBaseUrl)
    {
        Issuer = issuer;
        var uri = new Uri(issuer, UriKind.Absolute);
        BasePath = uri.AbsolutePath.TrimEnd('/');
        var origin = uri.GetLeftPart(UriPartial.Authority);
        Token = new Uri(origin + BasePath + TokenPath);
        Introspection = new Uri(origin + BasePath + IntrospectionPath);
        Revocation = new Uri(origin + BasePath + RevocationPath);
        Jwks = new Uri(origin + BasePath + JwksPath);
        if (mtlsBaseUrl is { } mtls)
        {
            var mtlsOrigin = new Uri(mtls, UriKind.Absolute).GetLeftPart(UriPartial.Authority);
            MtlsToken = new Uri(mtlsOrigin + BasePath + TokenPath);
            MtlsIntrospection = new Uri(mtlsOrigin + BasePath + IntrospectionPath);
            MtlsRevocation = new Uri(mtlsOrigin + BasePath + RevocationPath);
        }
    }

    public string Issuer { get; }

    /// <summary>The issuer's path without a trailing slash ("" for an issuer with no path).</summary>
    public string BasePath { get; }

    public Uri Token { get; }

    public Uri Introspection { get; }

    public Uri Revocation { get; }

    public Uri Jwks { get; }

    public Uri? MtlsToken { get; }

    public Uri? MtlsIntrospection { get; }

    public Uri? MtlsRevocation { get; }

    /// <summary>RFC 8414 §3.1: <c>/.well-known/oauth-authorization-server</c> followed by the issuer's path.</summary>
    public string AuthorizationServerMetadataPath => "/.well-known/oauth-authorization-server" + BasePath;

    /// <summary>OpenID Connect Discovery 1.0 §4: the issuer followed by <c>/.well-known/openid-configuration</c>.</summary>
    public string OpenIdConfigurationPath => BasePath + "/.well-known/openid-configuration";

    /// <summary>
    /// The URL a request to <paramref name="path"/> was addressed to, for DPoP's <c>htu</c>: the configured public URL,
    /// never one rebuilt from the Host header the client chose; the mTLS alias when it arrived on the mTLS listener.
    /// </summary>
    public Uri EndpointFor(string path, bool arrivedOverMtls) => path switch
    {
        TokenPath => arrivedOverMtls && MtlsToken is { } m ? m : Token,
        IntrospectionPath => arrivedOverMtls && MtlsIntrospection is { } i ? i : Introspection,
        _ => arrivedOverMtls && MtlsRevocation is { } r ? r : Revocation,
    };
}
