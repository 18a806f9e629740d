using JitBroker.Core;
using JitBroker.OAuth;

namespace JitBroker.Server.OAuth;

/// <summary>
/// How the callers of introspection and revocation prove who they are — their workload identity, never a client secret:
/// <list type="bullet">
/// <item><c>private_key_jwt</c> (RFC 7523 §2.2): <c>client_assertion_type</c> jwt-bearer and <c>client_assertion</c> = the
/// caller's JWT-SVID or OIDC token, whose <c>aud</c> names this authorization server (issuer, token endpoint or the endpoint called);</item>
/// <item>a bearer workload token in <c>Authorization</c> (RFC 7662 §2.1 allows it), addressed to the broker like a gRPC call's;</item>
/// <item><c>tls_client_auth</c> (RFC 8705 §2.1): the X.509-SVID of an mTLS connection, when neither of the above is sent.</item>
/// </list>
/// Two explicit methods at once are refused (RFC 6749 §2.3); a client secret (HTTP Basic) is refused, there are none.
/// </summary>
internal sealed class OAuthClientAuthentication(OAuthUrls urls)
{
    public const string JwtBearerAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

    public AttestationEvidence Evidence(HttpContext http, OAuthForm form, string endpointPath)
    {
        var peer = PeerAdmission.PeerOf(http);
        var bearer = BearerToken(http);
        var assertion = form["client_assertion"];
        var claimedId = form["client_id"];
        if (bearer is not null && assertion is not null)
        {
            throw new OAuthProtocolException(OAuthErrors.InvalidRequest, Reasons.OAuth.ClientAuthenticationAmbiguous,
                "Use one client authentication method: client_assertion or an Authorization bearer token, not both.");
        }

        if (assertion is not null)
        {
            if (form["client_assertion_type"] != JwtBearerAssertionType)
            {
                throw new OAuthProtocolException(OAuthErrors.InvalidClient, Reasons.OAuth.ClientAssertionTypeUnsupported,
                    $"client_assertion_type must be {JwtBearerAssertionType}.");
            }

            var here = urls.EndpointFor(endpointPath, http.Connection.ClientCertificate is not null).AbsoluteUri;
            return new AttestationEvidence(assertion, null, peer)
            {
                Audiences = [urls.Issuer, urls.EndpointFor(OAuthUrls.TokenPath, http.Connection.ClientCertificate is not null).AbsoluteUri, here],
                ClaimedAgentId = claimedId,
            };
        }

        if (bearer is not null)
        {
            return new AttestationEvidence(bearer, null, peer) { ClaimedAgentId = claimedId };
        }

        if (http.Connection.ClientCertificate is { } certificate)
        {
            return new AttestationEvidence(null, certificate, peer) { ClaimedAgentId = claimedId };
        }

        throw new OAuthProtocolException(OAuthErrors.InvalidClient, Reasons.OAuth.ClientAuthenticationMissing,
            "Authenticate with your workload identity: client_assertion (private_key_jwt), a bearer workload token, or an X.509-SVID (mTLS).");
    }

    private static string? BearerToken(HttpContext http)
    {
        var values = http.Request.Headers.Authorization;
        if (values.Count == 0)
        {
            return null;
        }

        const string scheme = "Bearer ";
        if (values.Count > 1 || values[0] is not { } header || !header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) || header.Length == scheme.Length)
        {
            throw new OAuthProtocolException(OAuthErrors.InvalidClient, Reasons.IdentityMalformedAuthorization,
                "Send one 'Authorization: Bearer <workload token>' header; there are no client secrets.");
        }

        return header[scheme.Length..].Trim();
    }
}
