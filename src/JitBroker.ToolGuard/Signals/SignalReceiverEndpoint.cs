using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace JitBroker.ToolGuard;

/// <summary>
/// The RFC 8935 push endpoint: <c>POST</c> of one SET as <c>application/secevent+jwt</c> → 202 once it is applied (a
/// revoked credential is refused from this instant), or 400 with <c>{"err", "description"}</c> (§2.3) for a SET this
/// receiver will never take — the broker then drops it rather than retrying. 503 only when the broker's keys cannot be
/// read (the broker retries). Nothing a sender writes here raises an exception past this class.
/// </summary>
internal sealed partial class SignalReceiverEndpoint(
    SetVerifier verifier, IRevocationSignal revocations, SubjectRevocations subjects, PushHealth health, IOptions<ToolGuardOptions> options,
    TimeProvider time, ILogger<SignalReceiverEndpoint> logger)
{
    public const string ContentType = "application/secevent+jwt";

    /// <summary>Not a refusal: the SET could not be judged yet (503, the broker retries).</summary>
    private static readonly SetRefusal KeysUnavailable = new("", "");

    public async Task HandleAsync(HttpContext http)
    {
        var o = options.Value;
        var refusal = await ReceiveAsync(http, o).ConfigureAwait(false);
        if (refusal is null || ReferenceEquals(refusal, KeysUnavailable))
        {
            http.Response.StatusCode = refusal is null ? StatusCodes.Status202Accepted : StatusCodes.Status503ServiceUnavailable;
            return;
        }

        LogRefused(logger, refusal.Err, refusal.Description);
        http.Response.StatusCode = StatusCodes.Status400BadRequest;
        http.Response.Headers["jitbroker-reason"] = ToolGuardReasons.SetRefused;
        await http.Response.WriteAsJsonAsync(new { err = refusal.Err, description = refusal.Description }, http.RequestAborted).ConfigureAwait(false);
    }

    private async Task<SetRefusal?> ReceiveAsync(HttpContext http, ToolGuardOptions o)
    {
        if (!string.Equals(http.Request.ContentType?.Split(';')[0].Trim(), ContentType, StringComparison.OrdinalIgnoreCase))
        {
            return new SetRefusal("invalid_request", "the content type must be " + ContentType);
        }

        var body = await ReadAsync(http.Request, o.Signals.MaxSetBytes, http.RequestAborted).ConfigureAwait(false);
        if (body is null)
        {
            return new SetRefusal("invalid_request", $"the SET is larger than {o.Signals.MaxSetBytes} bytes");
        }

        // A compact JWS is base64url and dots: anything else (non-ASCII, whitespace, a JSON body) is not a SET.
        if (body.Length == 0 || body.Any(b => !(char.IsAsciiLetterOrDigit((char)b) || b is (byte)'-' or (byte)'_' or (byte)'.')))
        {
            return new SetRefusal("invalid_request", "the body is not a compact JWS (base64url ASCII)");
        }

        try
        {
            var (set, refusal) = await verifier.VerifyAsync(Encoding.ASCII.GetString(body), http.RequestAborted).ConfigureAwait(false);
            return refusal ?? Apply(set!, o);
        }
        catch (SetKeysUnavailableException e)
        {
            LogKeysUnavailable(logger, e);
            return KeysUnavailable;
        }
        catch (JsonException)
        {
            return new SetRefusal("invalid_request", "the SET payload is not JSON");
        }
        catch (FormatException)
        {
            return new SetRefusal("invalid_request", "the SET payload is not base64url");
        }
    }

    /// <summary>Acts on a verified SET: revocation of one credential, of a subject, or a verification answer.</summary>
    private SetRefusal? Apply(Microsoft.IdentityModel.JsonWebTokens.JsonWebToken set, ToolGuardOptions o)
    {
        var payload = SetEvents.Payload(set);
        if (SetEvents.Single(payload) is not var (type, body))
        {
            return new SetRefusal("invalid_request", "events must hold exactly one event object");
        }

        var subject = SetEvents.Subject(payload, body);
        if (!verifier.FirstTime(set.Id))
        {
            return null; // a re-delivery of what was already applied: acknowledged, not applied twice
        }

        var until = time.GetUtcNow() + o.Signals.RevocationRetention;
        switch (type)
        {
            case SetEvents.Verification:
                health.Verified(subject is { } stream ? SetEvents.String(stream, "id") : null, SetEvents.String(body, "state"));
                return null;
            case SetEvents.SessionRevoked when subject is { } s && SetEvents.String(s, "iss") == o.Issuer:
                switch (SetEvents.String(s, "format"))
                {
                    case "jwt_id" when SetEvents.String(s, "jti") is { Length: > 0 } jti:
                        revocations.Revoke(jti, until);
                        LogRevoked(logger, jti);
                        return null;
                    case "iss_sub" when SetEvents.String(s, "sub") is { Length: > 0 } sub
                        && body.TryGetProperty("event_timestamp", out var ts) && ts.TryGetInt64(out var seconds):
                        subjects.Revoke(sub, DateTimeOffset.FromUnixTimeSeconds(seconds), until, o.Signals.MaxRevokedSubjects);
                        LogSubjectRevoked(logger, sub, seconds);
                        return null;
                }

                return new SetRefusal("invalid_request", "session-revoked needs a jwt_id subject with a jti, or an iss_sub subject with a sub and event_timestamp");
            case SetEvents.SessionRevoked:
                return new SetRefusal("invalid_request", "session-revoked needs a subject issued by the trusted broker");
            default:
                return null; // an event type this receiver does not act on: accepted and ignored (SSF §5)
        }
    }

    /// <summary>The body, or null when it exceeds <paramref name="max"/> bytes (read at most max + 1).</summary>
    private static async Task<byte[]?> ReadAsync(HttpRequest request, int max, CancellationToken cancellationToken)
    {
        if (request.ContentLength > max)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[4096];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > max)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    [LoggerMessage(EventId = 4350, EventName = "ToolGuardSetRefused", Level = LogLevel.Warning,
        Message = "A pushed SET was refused: {Err} ({Description})")]
    private static partial void LogRefused(ILogger logger, string err, string description);

    [LoggerMessage(EventId = 4351, EventName = "ToolGuardCredentialRevokedByPush", Level = LogLevel.Information,
        Message = "Credential {LeaseId} revoked by the broker's push; refused from now on")]
    private static partial void LogRevoked(ILogger logger, string leaseId);

    [LoggerMessage(EventId = 4352, EventName = "ToolGuardSubjectRevokedByPush", Level = LogLevel.Warning,
        Message = "Every credential of {Subject} issued at or before {IssuedAtOrBefore} (unix seconds) revoked by the broker's push (kill switch)")]
    private static partial void LogSubjectRevoked(ILogger logger, string subject, long issuedAtOrBefore);

    [LoggerMessage(EventId = 4353, EventName = "ToolGuardSetKeysUnavailable", Level = LogLevel.Warning,
        Message = "A pushed SET could not be verified: the broker's keys are unavailable; answered 503 so the broker retries")]
    private static partial void LogKeysUnavailable(ILogger logger, Exception exception);
}
