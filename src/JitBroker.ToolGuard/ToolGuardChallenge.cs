using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace JitBroker.ToolGuard;

/// <summary>
/// The one place a refusal becomes a response, as the MCP authorization spec and RFC 9728 §5.1 ask: 401 with
/// <c>WWW-Authenticate: Bearer resource_metadata="…"</c> (plus <c>error="invalid_token"</c> when a token was sent, RFC
/// 6750 §3.1), a <c>DPoP</c> challenge with <c>algs</c> for DPoP problems (RFC 9449 §7.1), and 403
/// <c>error="insufficient_scope", scope="…"</c>. The body is a small JSON error with the stable reason; never a token.
/// </summary>
internal static class ToolGuardChallenge
{
    /// <summary>Every refusal names its stable reason code in this response header.</summary>
    public const string ReasonHeader = "jitbroker-reason";

    public static Task WriteUnauthorizedAsync(HttpContext http, ToolGuardRequestState state, ToolGuardOptions options, CancellationToken cancellationToken = default)
    {
        var metadata = ToolGuardUrls.MetadataUrl(options);
        var tokenProblem = state.Token is not null || state.Reason is not null;
        var bearer = new StringBuilder("Bearer ").Append(Param("resource_metadata", metadata));
        if (tokenProblem && !state.DpopProblem)
        {
            bearer.Append(", ").Append(Param("error", state.Error)).Append(", ").Append(Param("error_description", Description(state)));
        }

        var dpop = new StringBuilder("DPoP ").Append(Param("algs", ToolGuardEvents.DpopAlgorithms));
        if (state.DpopProblem)
        {
            dpop.Append(", ").Append(Param("error", state.Error)).Append(", ").Append(Param("error_description", Description(state)));
        }

        dpop.Append(", ").Append(Param("resource_metadata", metadata));
        http.Response.StatusCode = StatusCodes.Status401Unauthorized;
        http.Response.Headers.Append(HeaderNames.WWWAuthenticate, options.DpopBoundTokensRequired ? dpop.ToString() : bearer.ToString());
        if (!options.DpopBoundTokensRequired)
        {
            http.Response.Headers.Append(HeaderNames.WWWAuthenticate, dpop.ToString());
        }

        return WriteBodyAsync(http, tokenProblem ? state.Error : "invalid_request", state.Reason ?? ToolGuardReasons.TokenMissing, cancellationToken);
    }

    public static Task WriteForbiddenAsync(HttpContext http, ToolGuardRequestState state, ToolGuardOptions options, string reason, string scope,
        CancellationToken cancellationToken = default)
    {
        var challenge = new StringBuilder(state.Scheme == "DPoP" ? "DPoP " : "Bearer ")
            .Append(Param("error", "insufficient_scope"));
        if (scope.Length > 0)
        {
            challenge.Append(", ").Append(Param("scope", scope));
        }

        challenge.Append(", ").Append(Param("resource_metadata", ToolGuardUrls.MetadataUrl(options)))
            .Append(", ").Append(Param("error_description", reason));
        http.Response.StatusCode = StatusCodes.Status403Forbidden;
        http.Response.Headers.Append(HeaderNames.WWWAuthenticate, challenge.ToString());
        return WriteBodyAsync(http, "insufficient_scope", reason, cancellationToken);
    }

    /// <summary>The headers every refusal carries, whatever its body: the reason, and no caching.</summary>
    public static void MarkRefused(HttpContext http, string reason)
    {
        http.Response.Headers[ReasonHeader] = reason;
        http.Response.Headers.CacheControl = "no-store";
    }

    private static string Description(ToolGuardRequestState state) => $"{state.Reason}: {state.Description}";

    // RFC 6750 §3: quoted-string values; the description charset excludes '"' and '\' (RFC 6749 §5.2), so drop them.
    private static string Param(string name, string value)
    {
        var clean = new string([.. value.Where(c => c is >= '\x20' and <= '\x7E' and not ('"' or '\\'))]);
        return $"{name}=\"{clean}\"";
    }

    private static async Task WriteBodyAsync(HttpContext http, string error, string reason, CancellationToken cancellationToken = default)
    {
        MarkRefused(http, reason);
        http.Response.ContentType = "application/json";
        await http.Response.WriteAsync(JsonSerializer.Serialize(new { error, reason }), cancellationToken).ConfigureAwait(false);
    }
}
