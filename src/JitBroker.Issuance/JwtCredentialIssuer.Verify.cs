using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using JitBroker.Core;

namespace JitBroker.Issuance;

public sealed partial class JwtCredentialIssuer
{
    private static readonly SearchValues<char> Base64UrlChars =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    // Duplicate members are rejected (RFC 7515 §4 allows either rejecting or last-wins; rejecting leaves
    // no room for two parsers reading the same token differently). Depth: our tokens nest at most twice.
    private static readonly JsonDocumentOptions StrictJson = new() { MaxDepth = 4, AllowDuplicateProperties = false };

    private static readonly int EncodedSignatureLength = Base64Url.GetEncodedLength(SigningKey.SignatureSize);

    // NumericDate bounds that DateTimeOffset can represent (years 0001-9999).
    private static readonly long MinNumericDate = DateTimeOffset.MinValue.ToUnixTimeSeconds();
    private static readonly long MaxNumericDate = DateTimeOffset.MaxValue.ToUnixTimeSeconds();

    /// <summary>
    /// Verifies a task JWT this broker minted: at most <see cref="MaxTokenLength"/> characters, exactly
    /// three base64url segments (a five-segment JWE is refused outright), a header of only <c>alg</c>
    /// (<c>ES256</c>), <c>typ</c> (the configured type, case-insensitive as media types are) and <c>kid</c>
    /// (one of the provider's verification keys), a valid signature, then <c>iss</c> equal to the
    /// configured issuer and every claim present with its type. Returns null for any problem and never
    /// throws for hostile input. Expiry is not checked here: that is the caller's concern.
    /// </summary>
    public TaskCredentialClaims? Verify(string token)
    {
        if (string.IsNullOrEmpty(token) || token.Length > MaxTokenLength)
        {
            return null;
        }

        try
        {
            return VerifyCore(token);
        }
        catch (Exception e) when (e is JsonException or CryptographicException or FormatException
            or ArgumentException or InvalidOperationException or OverflowException)
        {
            return null;
        }
    }

    private TaskCredentialClaims? VerifyCore(string token)
    {
        var text = token.AsSpan();
        var firstDot = text.IndexOf('.');
        var lastDot = text.LastIndexOf('.');
        if (firstDot <= 0 || lastDot == firstDot || text[(firstDot + 1)..lastDot].Contains('.'))
        {
            return null;
        }

        var headerPart = text[..firstDot];
        var payloadPart = text[(firstDot + 1)..lastDot];
        var signaturePart = text[(lastDot + 1)..];
        // Only the unpadded base64url alphabet: .NET's decoders would otherwise skip whitespace and padding.
        if (payloadPart.IsEmpty || signaturePart.Length != EncodedSignatureLength ||
            headerPart.ContainsAnyExcept(Base64UrlChars) || payloadPart.ContainsAnyExcept(Base64UrlChars) ||
            signaturePart.ContainsAnyExcept(Base64UrlChars))
        {
            return null;
        }

        // Header first (it names the key), then the signature, and only then is the payload parsed:
        // nothing an attacker wrote reaches the claims parser unless we signed it.
        var key = ReadHeader(headerPart);
        Span<byte> signature = stackalloc byte[SigningKey.SignatureSize];
        if (key is null || !Base64Url.TryDecodeFromChars(signaturePart, signature, out var written) || written != signature.Length)
        {
            return null;
        }

        var signingInput = ArrayPool<byte>.Shared.Rent(lastDot);
        try
        {
            var length = Encoding.ASCII.GetBytes(text[..lastDot], signingInput);
            if (!key.Verify(signingInput.AsSpan(0, length), signature))
            {
                return null;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(signingInput);
        }

        using var payload = JsonDocument.Parse(Base64Url.DecodeFromChars(payloadPart), StrictJson);
        return ReadClaims(payload.RootElement);
    }

    private SigningKey? ReadHeader(ReadOnlySpan<char> encoded)
    {
        using var header = JsonDocument.Parse(Base64Url.DecodeFromChars(encoded), StrictJson);
        var root = header.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        string? alg = null, typ = null, kid = null;
        foreach (var member in root.EnumerateObject())
        {
            // Only the three members we write. Anything else (crit, jku, jwk, x5u, x5c, zip, enc, …) is
            // not ours and is refused rather than interpreted.
            switch (member.Name)
            {
                case "alg": alg = StringOf(member.Value); break;
                case "typ": typ = StringOf(member.Value); break;
                case "kid": kid = StringOf(member.Value); break;
                default: return null;
            }
        }

        if (alg != SigningKey.Es256 || kid is null || !string.Equals(typ, _tokenType, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        foreach (var key in _keys.VerificationKeys)
        {
            if (string.Equals(key.KeyId, kid, StringComparison.Ordinal))
            {
                return key;
            }
        }

        return null;
    }

    private TaskCredentialClaims? ReadClaims(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object ||
            !string.Equals(StringClaim(root, TaskJwtClaimNames.Issuer), _issuer, StringComparison.Ordinal))
        {
            return null;
        }

        var leaseId = StringClaim(root, TaskJwtClaimNames.JwtId);
        var subject = StringClaim(root, TaskJwtClaimNames.Subject);
        var audience = StringClaim(root, TaskJwtClaimNames.Audience);
        var taskId = StringClaim(root, TaskJwtClaimNames.TaskId);
        var action = StringClaim(root, TaskJwtClaimNames.Action);
        var tools = StringArrayClaim(root, TaskJwtClaimNames.Tools);
        var resources = StringArrayClaim(root, TaskJwtClaimNames.Resources);
        var issuedAt = NumericDateClaim(root, TaskJwtClaimNames.IssuedAt);
        var expiresAt = NumericDateClaim(root, TaskJwtClaimNames.Expires);
        if (!LeaseIds.IsWellFormed(leaseId) || subject is null || audience is null || taskId is null ||
            action is null || tools is null || resources is null || issuedAt is null || expiresAt is null ||
            expiresAt <= issuedAt)
        {
            return null;
        }

        return new TaskCredentialClaims(leaseId!, _issuer, subject, taskId,
            new GrantedScope(audience, action, tools, resources), issuedAt.Value, expiresAt.Value);
    }

    private static string? StringOf(JsonElement value) =>
        value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static string? StringClaim(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && StringOf(value) is { Length: > 0 } text ? text : null;

    private static string[]? StringArrayClaim(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.Array)
        {
            return null;
        }

        var items = new string[value.GetArrayLength()];
        var i = 0;
        foreach (var item in value.EnumerateArray())
        {
            if (StringOf(item) is not { } text)
            {
                return null;
            }

            items[i++] = text;
        }

        return items;
    }

    private static DateTimeOffset? NumericDateClaim(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number &&
        value.TryGetInt64(out var seconds) && seconds >= MinNumericDate && seconds <= MaxNumericDate
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : null;
}
