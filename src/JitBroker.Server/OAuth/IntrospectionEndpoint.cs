using System.Text.Json;
using JitBroker.Core;
using JitBroker.Core.Handlers;

namespace JitBroker.Server.OAuth;

/// <summary>
/// RFC 7662 introspection over the same <see cref="IntrospectionHandler"/> as the gRPC door, so both give the same answer:
/// the caller authenticates (<see cref="OAuthClientAuthentication"/>) and must be a configured resource server (or the agent
/// asking about its own token). An inactive token gets <c>{"active":false}</c> and nothing else (§2.2).
/// </summary>
internal sealed class IntrospectionEndpoint(IntrospectionHandler introspection, OAuthClientAuthentication clients, OAuthEndpointRunner runner)
{
    public Task HandleAsync(HttpContext http) => runner.RunAsync(http, callerIsClient: true, async cancellationToken =>
    {
        var form = await OAuthRequestReader.ReadFormAsync(http, cancellationToken).ConfigureAwait(false);
        var evidence = clients.Evidence(http, form, OAuthUrls.IntrospectionPath);
        var token = OAuthRequestReader.Required(form, "token");
        var result = await introspection.HandleAsync(evidence, token, cancellationToken).ConfigureAwait(false);
        await OAuthResponses.WriteJsonAsync(http, StatusCodes.Status200OK, w => Write(w, result)).ConfigureAwait(false);
    });

    private static void Write(Utf8JsonWriter w, IntrospectionResult result)
    {
        if (!result.Active || result.Claims is not { } claims)
        {
            w.WriteBoolean("active", false);
            return;
        }

        var scope = claims.Scope;
        w.WriteBoolean("active", true);
        w.WriteString("scope", OAuthResponses.ScopeOf(scope));
        w.WriteString("client_id", claims.ClientId ?? claims.Subject);
        w.WriteString("sub", claims.Subject);
        w.WriteString("aud", scope.Audience);
        w.WriteString("iss", claims.Issuer);
        w.WriteNumber("exp", claims.ExpiresAt.ToUnixTimeSeconds());
        w.WriteNumber("iat", claims.IssuedAt.ToUnixTimeSeconds());
        w.WriteString("jti", claims.LeaseId);
        w.WriteString("token_type", claims.ProofKeyThumbprint is null ? "Bearer" : "DPoP");
        if (claims.ProofKeyThumbprint is not null || claims.CertificateThumbprint is not null)
        {
            w.WriteStartObject("cnf");
            if (claims.ProofKeyThumbprint is { } jkt)
            {
                w.WriteString("jkt", jkt);
            }

            if (claims.CertificateThumbprint is { } x5t)
            {
                w.WriteString("x5t#S256", x5t);
            }

            w.WriteEndObject();
        }

        if (claims.Actors is { Count: > 0 } actors)
        {
            // RFC 8693 §4.1: the current actor outermost, each earlier one nested inside it.
            for (var i = 0; i < actors.Count; i++)
            {
                w.WriteStartObject("act");
                w.WriteString("sub", actors[i]);
            }

            for (var i = 0; i < actors.Count; i++)
            {
                w.WriteEndObject();
            }
        }

        w.WriteString("task_id", claims.TaskId);
        w.WriteString("action", scope.Action);
        OAuthResponses.WriteStrings(w, "tools", scope.Tools);
        OAuthResponses.WriteStrings(w, "resources", scope.Resources);
        w.WriteString("credential_kind", result.CredentialKind ?? "");
    }
}
