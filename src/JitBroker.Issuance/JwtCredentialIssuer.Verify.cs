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
    // no room for two parsers reading the same token differently). Depth: the payload nests one level for cnf and one
    // per actor of a delegation chain (each act inside the previous), and no chain is longer than the ledger walks.
    private static readonly JsonDocumentOptions StrictJson = new()
    {
        MaxDepth = Core.Handlers.LeaseUsability.MaxChainLength + 2,
        AllowDuplicateProperties = false,
    };

    // NumericDate bounds that DateTimeOffset can represent (years 0001-9999).
    private static readonly long MinNumericDate = DateTimeOffset.MinValue.ToUnixTimeSeconds();
    private static readonly long MaxNumericDate = DateTimeOffset.MaxValue.ToUnixTimeSeconds();

    /// <summary>
    /// Verifies a task JWT this broker minted: at most <see cref="MaxTokenLength"/> characters, exactly
    /// three base64url segments (a five-segment JWE is refused outright), a header of only <c>alg</c>, <c>typ</c> (the
    /// configured type, case-insensitive as media types are) and <c>kid</c> (one of the provider's verification keys),
    /// where <c>alg</c> must be exactly that key's own algorithm — never one the token picks: no <c>none</c>, no HS256
    /// keyed with the public key, no RS256 token checked as PS256 or the other way round — then a valid signature of
    /// that key's size, then <c>iss</c> equal to the configured issuer and every claim present with its type; an
    /// optional <c>cnf</c> (only <c>jkt</c> and <c>x5t#S256</c>, strings) and <c>act</c> chain are returned too.
    /// Returns null for any problem and never throws for hostile input. Expiry is not checked here: that is the
    /// caller's concern.
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
        if (payloadPart.IsEmpty || signaturePart.IsEmpty ||
            headerPart.ContainsAnyExcept(Base64UrlChars) || payloadPart.ContainsAnyExcept(Base64UrlChars) ||
            signaturePart.ContainsAnyExcept(Base64UrlChars))
        {
            return null;
        }

        // Header first (it names the key, and the key fixes the algorithm and the signature's size), then the
        // signature, and only then is the payload parsed: nothing an attacker wrote reaches the claims parser unless
        // we signed it.
        var key = ReadHeader(headerPart);
        if (key is null || signaturePart.Length != Base64Url.GetEncodedLength(key.SignatureSize))
        {
            return null;
        }

        // At most 1024 bytes (an 8192-bit RSA key, the largest SigningKey accepts).
        Span<byte> signature = stackalloc byte[key.SignatureSize];
        if (!Base64Url.TryDecodeFromChars(signaturePart, signature, out var written) || written != signature.Length)
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

        if (alg is null || kid is null || !string.Equals(typ, _tokenType, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        foreach (var key in _keys.VerificationKeys)
        {
            // The key decides the algorithm; the header only has to agree with it (RFC 8725 §3.1).
            if (string.Equals(key.KeyId, kid, StringComparison.Ordinal))
            {
                return string.Equals(key.Algorithm, alg, StringComparison.Ordinal) ? key : null;
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

        if (!TryReadConfirmation(root, out var jkt, out var x5t) || !TryReadActors(root, out var actors))
        {
            return null;
        }

        return new TaskCredentialClaims(leaseId!, _issuer, subject, taskId,
            new GrantedScope(audience, action, tools, resources), issuedAt.Value, expiresAt.Value)
        {
            ProofKeyThumbprint = jkt,
            CertificateThumbprint = x5t,
            Actors = actors,
            ClientId = StringClaim(root, TaskJwtClaimNames.ClientId),
        };
    }

    /// <summary>
    /// The optional <c>cnf</c>: absent is fine; present it must be an object of only <c>jkt</c> and <c>x5t#S256</c>, each a
    /// non-empty string, at least one of them (what the issuer writes). Anything else is not our token.
    /// </summary>
    private static bool TryReadConfirmation(JsonElement root, out string? jkt, out string? x5t)
    {
        jkt = x5t = null;
        if (!root.TryGetProperty(TaskJwtClaimNames.Confirmation, out var cnf))
        {
            return true;
        }

        if (cnf.ValueKind != JsonValueKind.Object)
        {
            return false;
        }

        foreach (var member in cnf.EnumerateObject())
        {
            var value = StringOf(member.Value) is { Length: > 0 } text ? text : null;
            switch (member.Name)
            {
                case TaskJwtClaimNames.ProofKeyThumbprint: jkt = value; break;
                case TaskJwtClaimNames.CertificateThumbprint: x5t = value; break;
                default: return false;
            }

            if (value is null)
            {
                return false;
            }
        }

        return jkt is not null || x5t is not null;
    }

    /// <summary>
    /// The optional RFC 8693 <c>act</c> chain, current actor first (as <see cref="DelegationChain.Actors"/>): each level an
    /// object of a non-empty string <c>sub</c> and, except the innermost, one nested <c>act</c>.
    /// </summary>
    private static bool TryReadActors(JsonElement root, out IReadOnlyList<string> actors)
    {
        var chain = new List<string>();
        actors = chain;
        var level = root;
        while (level.TryGetProperty(TaskJwtClaimNames.Actor, out var act))
        {
            if (act.ValueKind != JsonValueKind.Object || StringClaim(act, TaskJwtClaimNames.Subject) is not { } actor)
            {
                return false;
            }

            foreach (var member in act.EnumerateObject())
            {
                if (member.Name is not (TaskJwtClaimNames.Subject or TaskJwtClaimNames.Actor))
                {
                    return false;
                }
            }

            chain.Add(actor);
            level = act;
        }

        return true;
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
