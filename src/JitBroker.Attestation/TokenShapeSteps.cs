using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using JitBroker.Core;
using static JitBroker.Attestation.TokenValidationContext;

namespace JitBroker.Attestation;

/// <summary>
/// Step 1: the token is a JWS in compact serialization (RFC 7515 §3.1, §5.2) of bounded size: three
/// base64url segments, a header and a payload that are JSON objects with unique member names. A JWE (five
/// segments) is refused here, before any parser or library sees it (CVE-2024-21319 in IdentityModel 6.x).
/// </summary>
internal sealed class CompactSerializationStep(int maxTokenLength) : SyncTokenValidationStep
{
    private static readonly JsonDocumentOptions JsonOptions = new() { MaxDepth = 32 };

    public override void Validate(TokenValidationContext context)
    {
        var token = context.Token.Span;
        if (token.Length > maxTokenLength)
        {
            throw Reject(Reasons.Attestation.TooLarge, $"The token is longer than {maxTokenLength} characters.");
        }

        var dots = token.Count('.');
        if (dots == 4)
        {
            throw Reject(Reasons.Attestation.JweRefused, "Encrypted tokens (JWE) are not accepted; a JWT-SVID is a signed JWS.");
        }

        if (dots != 2)
        {
            throw Reject(Reasons.Attestation.Malformed, "The token is not a JWS in compact serialization (three dot-separated segments).");
        }

        var first = token.IndexOf('.');
        var second = first + 1 + token[(first + 1)..].IndexOf('.');
        var header = token[..first];
        var payload = token.Slice(first + 1, second - first - 1);
        var signature = token[(second + 1)..];

        // One buffer for the three decoded segments and the signing input, rented and owned by the context until it is
        // disposed (after the JSON documents that read from it): four arrays per token were ~700 B of every request.
        var headerLength = Base64Url.GetMaxDecodedLength(header.Length);
        var payloadLength = Base64Url.GetMaxDecodedLength(payload.Length);
        var signatureLength = Base64Url.GetMaxDecodedLength(signature.Length);
        var buffer = context.RentBuffer(headerLength + payloadLength + signatureLength + second);
        var headerBytes = buffer.AsMemory(0, headerLength);
        var payloadBytes = buffer.AsMemory(headerLength, payloadLength);
        var signatureBytes = buffer.AsMemory(headerLength + payloadLength, signatureLength);

        // An empty signature is left to the header step, so "alg":"none" is reported as what it is.
        if (header.IsEmpty || payload.IsEmpty
            || !Base64UrlStrict.TryDecode(header, headerBytes.Span, out var headerWritten)
            || !Base64UrlStrict.TryDecode(payload, payloadBytes.Span, out var payloadWritten)
            || !Base64UrlStrict.TryDecode(signature, signatureBytes.Span, out var signatureWritten))
        {
            throw Reject(Reasons.Attestation.Malformed, "A token segment is not canonical unpadded base64url.");
        }

        context.Header = ParseObject(headerBytes[..headerWritten], "header");
        context.Payload = ParseObject(payloadBytes[..payloadWritten], "payload");
        var signingInput = buffer.AsMemory(headerLength + payloadLength + signatureLength, second);
        Encoding.ASCII.GetBytes(token[..second], signingInput.Span);
        context.SigningInput = signingInput;
        context.Signature = signatureBytes[..signatureWritten];
    }

    private static JsonDocument ParseObject(ReadOnlyMemory<byte> utf8, string what)
    {
        // Before the parser: invalid or overlong UTF-8 and escaped lone surrogates would otherwise surface as
        // an InvalidOperationException from the first GetString (an INTERNAL answer), or not at all.
        if (!StrictUtf8.IsJsonText(utf8.Span))
        {
            throw Reject(Reasons.Attestation.Malformed, $"The token {what} is not strictly valid UTF-8 text.");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8, JsonOptions);
        }
        catch (JsonException)
        {
            throw Reject(Reasons.Attestation.Malformed, $"The token {what} is not valid UTF-8 JSON.");
        }

        if (document.RootElement.ValueKind != JsonValueKind.Object || !JsonStrict.HasUniqueMembers(document.RootElement))
        {
            document.Dispose();
            throw Reject(Reasons.Attestation.Malformed, $"The token {what} must be a JSON object with unique member names.");
        }

        return document;
    }
}

/// <summary>
/// Step 2: the JOSE header carries only <c>alg</c>, <c>kid</c>, <c>typ</c> (JWT-SVID §2: any other header,
/// registered or private, including <c>crit</c>, is refused); <c>typ</c> is <c>JWT</c> or <c>JOSE</c>;
/// <c>alg</c> is one of the nine JWT-SVID algorithms (and, for an OIDC issuer, one it is configured to
/// use); <c>kid</c> is present (the spec leaves it optional, but bundle keys must carry one, and selecting
/// a key without it would mean trying every key). An OIDC issuer may be configured to tolerate the purely
/// informational <c>x5t</c>/<c>x5t#S256</c> headers some CI issuers add; they are never used to find a key.
/// </summary>
internal sealed class HeaderStep(IReadOnlySet<string>? allowedAlgorithms = null, IReadOnlySet<string>? toleratedHeaders = null) : SyncTokenValidationStep
{
    /// <summary>Headers an issuer may be configured to tolerate: hints about a key, never a way to supply one.</summary>
    public static readonly IReadOnlySet<string> TolerableHeaders = new HashSet<string>(StringComparer.Ordinal) { "x5t", "x5t#S256" };

    public override void Validate(TokenValidationContext context)
    {
        var header = context.HeaderRoot;
        foreach (var member in header.EnumerateObject())
        {
            // NameEquals compares the unescaped name in place: the three allowed names cost no string per token.
            if (!member.NameEquals("alg") && !member.NameEquals("kid") && !member.NameEquals("typ") && toleratedHeaders?.Contains(member.Name) != true)
            {
                throw Reject(Reasons.Attestation.HeaderNotAllowed, "The token header may contain only 'alg', 'kid' and 'typ'.");
            }
        }

        // ValueEquals compares the unescaped value in place, as GetString() would return it, without making the string.
        if (header.TryGetProperty("typ", out var typ) && !(typ.ValueKind == JsonValueKind.String && (typ.ValueEquals("JWT") || typ.ValueEquals("JOSE"))))
        {
            throw Reject(Reasons.Attestation.TypNotAllowed, "The token header 'typ', when present, must be 'JWT' or 'JOSE'.");
        }

        if (!header.TryGetProperty("alg", out var alg) || !JwsAlgorithm.TryGet(alg, out var algorithm))
        {
            throw Reject(Reasons.Attestation.AlgNotAllowed, "The token 'alg' must be one of RS256, RS384, RS512, ES256, ES384, ES512, PS256, PS384, PS512.");
        }

        if (allowedAlgorithms is not null && !allowedAlgorithms.Contains(algorithm.Name))
        {
            throw Reject(Reasons.Attestation.AlgNotAllowed, $"The token 'alg' must be one of {string.Join(", ", allowedAlgorithms.Order(StringComparer.Ordinal))} for its issuer.");
        }

        if (!header.TryGetProperty("kid", out var kid) || kid.ValueKind != JsonValueKind.String || kid.GetString() is not { Length: > 0 } keyId)
        {
            throw Reject(Reasons.Attestation.KidMissing, "The token header must name its signing key in 'kid'.");
        }

        context.Algorithm = algorithm;
        context.KeyId = keyId;
    }
}

/// <summary>
/// Step 3 (JWT-SVID): <c>sub</c> is a strictly valid SPIFFE ID naming a workload (a non-empty path: the
/// bare trust domain ID belongs to the signing authority itself, SPIFFE-ID §3.1).
/// </summary>
internal sealed class SubjectStep : SyncTokenValidationStep
{
    public override void Validate(TokenValidationContext context)
    {
        if (!context.Claims.TryGetProperty("sub", out var sub) || sub.ValueKind != JsonValueKind.String)
        {
            throw Reject(Reasons.Attestation.SubInvalid, "The token 'sub' must be the workload's SPIFFE ID.");
        }

        var text = sub.GetString();
        if (!SpiffeId.TryParse(text, out var id, out var error))
        {
            throw Reject(Reasons.Attestation.SubInvalid, $"The token 'sub' is not a valid SPIFFE ID: {error}.");
        }

        if (id.Path.Length == 0)
        {
            throw Reject(Reasons.Attestation.SubInvalid, "The token 'sub' must name a workload, not a bare trust domain.");
        }

        context.SpiffeSubject = id;
        context.SpiffeSubjectText = text; // a strictly parsed ID is its own canonical form: id.ToString() would equal it
    }
}
