using System.Text.Json;
using JitBroker.OAuth;

namespace JitBroker.Server.OAuth;

/// <summary>
/// RFC 8414 §2 metadata, served at <c>/.well-known/oauth-authorization-server</c> and at the OpenID Connect Discovery path
/// for libraries that only look there (the broker is no OpenID Provider: it issues no ID tokens and has no authorization
/// endpoint, so <c>response_types_supported</c> is honestly empty). Built once: everything in it comes from configuration.
/// </summary>
internal static class AuthorizationServerMetadata
{
    /// <summary>What an incoming JWT-SVID/OIDC client assertion may be signed with (the attestors' algorithms).</summary>
    private static readonly string[] AssertionAlgorithms = ["ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"];

    public static string Build(OAuthUrls urls, bool mtlsListener)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("issuer", urls.Issuer);
            w.WriteString("token_endpoint", urls.Token.AbsoluteUri);
            w.WriteString("jwks_uri", urls.Jwks.AbsoluteUri);
            w.WriteString("introspection_endpoint", urls.Introspection.AbsoluteUri);
            w.WriteString("revocation_endpoint", urls.Revocation.AbsoluteUri);
            Array(w, "response_types_supported", []);
            Array(w, "grant_types_supported", mtlsListener
                ? [TokenEndpoint.JwtBearer, TokenEndpoint.TokenExchange, TokenEndpoint.ClientCredentials]
                : [TokenEndpoint.JwtBearer, TokenEndpoint.TokenExchange]);
            // jwt-bearer and token exchange need no client authentication beyond the grant's own workload token (RFC 7523 §3.1).
            Array(w, "token_endpoint_auth_methods_supported", mtlsListener ? ["none", "tls_client_auth"] : ["none"]);
            Array(w, "introspection_endpoint_auth_methods_supported", mtlsListener ? ["private_key_jwt", "tls_client_auth"] : ["private_key_jwt"]);
            Array(w, "introspection_endpoint_auth_signing_alg_values_supported", AssertionAlgorithms);
            Array(w, "revocation_endpoint_auth_methods_supported", mtlsListener ? ["private_key_jwt", "tls_client_auth"] : ["private_key_jwt"]);
            Array(w, "revocation_endpoint_auth_signing_alg_values_supported", AssertionAlgorithms);
            Array(w, "authorization_details_types_supported", [TaskIntentParameters.AuthorizationDetailsType]);
            Array(w, "dpop_signing_alg_values_supported", DpopProofValidator.SupportedAlgorithms);
            w.WriteBoolean("tls_client_certificate_bound_access_tokens", mtlsListener);
            if (urls.MtlsToken is { } mtlsToken)
            {
                w.WriteStartObject("mtls_endpoint_aliases");
                w.WriteString("token_endpoint", mtlsToken.AbsoluteUri);
                w.WriteString("introspection_endpoint", urls.MtlsIntrospection!.AbsoluteUri);
                w.WriteString("revocation_endpoint", urls.MtlsRevocation!.AbsoluteUri);
                w.WriteEndObject();
            }

            w.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private static void Array(Utf8JsonWriter w, string name, IEnumerable<string> values)
    {
        w.WriteStartArray(name);
        foreach (var value in values)
        {
            w.WriteStringValue(value);
        }

        w.WriteEndArray();
    }
}
