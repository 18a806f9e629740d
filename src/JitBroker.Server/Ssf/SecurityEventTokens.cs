using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using JitBroker.Issuance;

namespace JitBroker.Server.Ssf;

/// <summary>
/// Builds and signs Security Event Tokens (RFC 8417) as SSF 1.0 profiles them: header <c>typ: secevent+jwt</c> (so a SET
/// can never pass for a task token, whose <c>typ</c> differs, nor the other way round), no <c>exp</c> or <c>sub</c>
/// (RFC 8417 §2.2), the subject as a top-level <c>sub_id</c> (SSF §4.1.x) and, for receivers written against CAEP drafts,
/// again as the event's <c>subject</c>. Signed with the broker's token key: receivers verify with the JWKS they already
/// trust (docs/ssf.md says why that is safe).
/// </summary>
public sealed class SecurityEventTokens(ISigningKeyProvider keys, string issuer)
{
    public const string TokenType = "secevent+jwt";

    public string Issuer => issuer;

    /// <summary>A CAEP session-revoked SET about the task credential whose <c>jti</c> is <see cref="PendingSignal.Subject"/>.</summary>
    public string Sign(PendingSignal signal, DateTimeOffset issuedAt) => signal.EventType switch
    {
        SignalEventTypes.Verification => Build(signal, issuedAt, w =>
        {
            // SSF §8.1.4.2: a verification event's subject is the stream.
            w.WriteStartObject("sub_id");
            w.WriteString("format", "opaque");
            w.WriteString("id", signal.StreamId);
            w.WriteEndObject();
        }, w => w.WriteString("state", signal.Subject)),
        _ => Build(signal, issuedAt, w => WriteSubject(w, "sub_id", signal), w =>
        {
            WriteSubject(w, "subject", signal);
            // Seconds, rounded down: for an iss_sub subject "issued at or before" compares it with the tokens' iat (seconds).
            w.WriteNumber("event_timestamp", signal.EventTimestamp.ToUnixTimeSeconds());
        }),
    };

    private void WriteSubject(Utf8JsonWriter w, string name, PendingSignal signal)
    {
        // "jwt_id" (SSF 1.0 §3.5.1) names exactly one token by its issuer and jti — the revoked credential; "iss_sub"
        // (RFC 9493) names the agent, for the kill switch's "every token of this subject issued at or before" event.
        var bySubject = signal.SubjectFormat == SignalEventTypes.IssSubFormat;
        w.WriteStartObject(name);
        w.WriteString("format", bySubject ? SignalEventTypes.IssSubFormat : SignalEventTypes.JwtIdFormat);
        w.WriteString("iss", issuer);
        w.WriteString(bySubject ? "sub" : "jti", signal.Subject);
        w.WriteEndObject();
    }

    private string Build(PendingSignal signal, DateTimeOffset issuedAt, Action<Utf8JsonWriter> subject, Action<Utf8JsonWriter> eventBody)
    {
        var key = keys.Current;
        var header = Encode(w =>
        {
            w.WriteString("alg", key.Algorithm);
            w.WriteString("kid", key.KeyId);
            w.WriteString("typ", TokenType);
        });
        var payload = Encode(w =>
        {
            w.WriteString("iss", issuer);
            w.WriteString("jti", signal.Id);
            w.WriteNumber("iat", issuedAt.ToUnixTimeSeconds());
            w.WriteString("aud", signal.Audience);
            subject(w);
            w.WriteStartObject("events");
            w.WriteStartObject(signal.EventType);
            eventBody(w);
            w.WriteEndObject();
            w.WriteEndObject();
        });
        var signingInput = header + "." + payload;
        return signingInput + "." + Base64Url.EncodeToString(key.Sign(Encoding.ASCII.GetBytes(signingInput)));
    }

    private static string Encode(Action<Utf8JsonWriter> body)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }

        return Base64Url.EncodeToString(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
    }
}
