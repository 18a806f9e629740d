using JitBroker.Core;

namespace JitBroker.Server.OAuth;

/// <summary>
/// RFC 6749 §5.1 success: <c>access_token</c>, <c>token_type</c> (<c>DPoP</c> for a proof-bound token, RFC 9449 §5),
/// <c>expires_in</c>, <c>scope</c> (as granted: the action and <c>tool:</c> tokens, the token's own <c>scope</c> claim),
/// <c>issued_token_type</c> for a token exchange (RFC 8693 §2.2.1), the granted <c>authorization_details</c> when the request
/// used them (RFC 9396 §7), and the broker's <c>task_id</c> and <c>lease_id</c> (to end the task or revoke). No refresh token, ever.
/// </summary>
internal static class TokenResponse
{
    public static Task WriteAsync(HttpContext http, CredentialGrantResult result, string? proofKey, bool exchange, bool authorizationDetails)
    {
        var lease = result.Lease;
        var scope = lease.Scope;
        var expiresIn = Math.Max(0, (long)(result.Credential.ExpiresAt - result.Credential.IssuedAt).TotalSeconds);
        return OAuthResponses.WriteJsonAsync(http, StatusCodes.Status200OK, w =>
        {
            w.WriteString("access_token", result.Credential.Secret);
            w.WriteString("token_type", proofKey is null ? "Bearer" : "DPoP");
            w.WriteNumber("expires_in", expiresIn);
            w.WriteString("scope", OAuthResponses.ScopeOf(scope));
            if (exchange)
            {
                w.WriteString("issued_token_type", TokenEndpoint.AccessTokenType);
            }

            if (authorizationDetails)
            {
                w.WriteStartArray("authorization_details");
                w.WriteStartObject();
                w.WriteString("type", JitBroker.OAuth.TaskIntentParameters.AuthorizationDetailsType);
                w.WriteString("task_id", lease.TaskId);
                w.WriteString("action", scope.Action);
                OAuthResponses.WriteStrings(w, "tools", scope.Tools);
                OAuthResponses.WriteStrings(w, "resources", scope.Resources);
                OAuthResponses.WriteStrings(w, "locations", [scope.Audience]);
                w.WriteEndObject();
                w.WriteEndArray();
            }

            w.WriteString("task_id", lease.TaskId);
            w.WriteString("lease_id", lease.LeaseId);
        });
    }
}
