using System.Text.Json;
using JitBroker.Core;
using JitBroker.OAuth;

namespace JitBroker.Server.OAuth;

/// <summary>
/// Writes the door's JSON answers: RFC 6749 §5.1 success and §5.2 errors, always <c>Cache-Control: no-store</c>; the
/// stable reason code goes in <c>error_description</c> ("reason: text") and in the <c>jitbroker-reason</c> header, as the
/// gRPC door puts it in its trailer.
/// </summary>
internal static class OAuthResponses
{
    public const string ReasonHeader = "jitbroker-reason";

    public static Task WriteJsonAsync(HttpContext http, int status, Action<Utf8JsonWriter> body)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        NoStore(http);
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }

        return http.Response.Body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length)).AsTask();
    }

    /// <summary>A token's scope as the door writes it (the token's own <c>scope</c> claim): the action, then <c>tool:</c> tokens.</summary>
    public static string ScopeOf(JitBroker.Core.GrantedScope scope) => string.Join(' ', scope.Tools.Select(t => "tool:" + t).Prepend(scope.Action));

    public static void WriteStrings(Utf8JsonWriter w, string name, IEnumerable<string> values)
    {
        w.WriteStartArray(name);
        foreach (var value in values)
        {
            w.WriteStringValue(value);
        }

        w.WriteEndArray();
    }

    public static void NoStore(HttpContext http)
    {
        http.Response.Headers.CacheControl = "no-store";
        http.Response.Headers.Pragma = "no-cache";
    }

    /// <summary>An RFC 6749 §5.2 error; 401 with a challenge for <c>invalid_client</c> (§5.2), 429/503/500 where the cause is ours.</summary>
    public static Task WriteErrorAsync(HttpContext http, OAuthProtocolException error, Action<Utf8JsonWriter>? extra = null, TimeSpan? retryAfter = null)
    {
        var status = error.Error switch
        {
            OAuthErrors.InvalidClient => StatusCodes.Status401Unauthorized,
            OAuthErrors.ServerError => StatusCodes.Status500InternalServerError,
            OAuthErrors.TemporarilyUnavailable => StatusCodes.Status503ServiceUnavailable,
            _ when retryAfter is not null => StatusCodes.Status429TooManyRequests,
            _ => StatusCodes.Status400BadRequest,
        };
        if (status == StatusCodes.Status401Unauthorized)
        {
            http.Response.Headers.WWWAuthenticate = $"Bearer error=\"{error.Error}\"";
        }

        if (error.Error == OAuthErrors.InvalidDpopProof)
        {
            // RFC 9449 §7.1: a DPoP problem is challenged with the DPoP scheme and the algorithms accepted.
            http.Response.Headers.WWWAuthenticate = $"DPoP error=\"invalid_dpop_proof\", algs=\"{string.Join(' ', DpopProofValidator.SupportedAlgorithms)}\"";
        }

        if (retryAfter is { } wait)
        {
            http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        http.Response.Headers[ReasonHeader] = error.Reason;
        return WriteJsonAsync(http, status, w =>
        {
            w.WriteString("error", error.Error);
            w.WriteString("error_description", error.Reason + ": " + error.Description);
            extra?.Invoke(w);
        });
    }

    /// <summary>
    /// A domain refusal in OAuth terms. The token endpoint's table (docs/oauth.md, "Errors"): a bad or replayed assertion is
    /// <c>invalid_grant</c>, policy and blocks <c>access_denied</c> (an audience no rule grants <c>invalid_target</c>), a
    /// delegation that would widen <c>invalid_scope</c>, an expired approval <c>expired_token</c>; our own failures are
    /// <c>temporarily_unavailable</c> / <c>server_error</c>, never a stack trace.
    /// </summary>
    public static OAuthProtocolException FromBroker(BrokerException ex, bool callerIsClient = false) => new(ErrorFor(ex, callerIsClient), ex.Reason, ex.Message);

    private static string ErrorFor(BrokerException ex, bool callerIsClient) => ex.Failure switch
    {
        // The endpoint's caller failed to authenticate (introspection, revocation) or the grant's assertion did not attest.
        BrokerFailure.Unauthenticated => callerIsClient ? OAuthErrors.InvalidClient : OAuthErrors.InvalidGrant,
        BrokerFailure.InvalidArgument => OAuthErrors.InvalidRequest,
        BrokerFailure.PermissionDenied when ex.Reason == Reasons.TokenReplayed => OAuthErrors.InvalidGrant,
        BrokerFailure.PermissionDenied when ex.AudienceNotAllowed => OAuthErrors.InvalidTarget,
        BrokerFailure.PermissionDenied when ex.Reason == Reasons.Approval.Expired => OAuthErrors.ExpiredToken,
        BrokerFailure.PermissionDenied when ex.Reason == Reasons.Delegation.Widening => OAuthErrors.InvalidScope,
        BrokerFailure.PermissionDenied when ex.Reason is Reasons.Approval.NotFound or Reasons.Approval.RequestMismatch
            or Reasons.Approval.AlreadyUsed or Reasons.Delegation.OfferInvalid or Reasons.Delegation.SubjectTokenBound => OAuthErrors.InvalidGrant,
        BrokerFailure.PermissionDenied when callerIsClient && ex.Reason is Reasons.Introspection.CallerNotAllowed or Reasons.CredentialNotHolder
            => OAuthErrors.UnauthorizedClient,
        BrokerFailure.PermissionDenied => OAuthErrors.AccessDenied,
        BrokerFailure.ResourceExhausted => OAuthErrors.AccessDenied,
        BrokerFailure.NotFound or BrokerFailure.FailedPrecondition => OAuthErrors.InvalidGrant,
        BrokerFailure.Unavailable => OAuthErrors.TemporarilyUnavailable,
        _ => OAuthErrors.ServerError,
    };
}
