using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace JitBroker.OAuth;

/// <summary>
/// RFC 7638 JWK thumbprint: base64url (no padding) of SHA-256 over the required members of a public JWK in
/// lexicographic order, as JSON without whitespace. This is the <c>jkt</c> a DPoP-bound token's <c>cnf</c> carries.
/// </summary>
public static class JwkThumbprint
{
    /// <summary>
    /// The thumbprint of an EC (crv, kty, x, y), RSA (e, kty, n) or OKP (crv, kty, x) key. Anything else — another kty,
    /// a required member missing or not a plain string, a member named twice — throws
    /// <see cref="OAuthProtocolException"/> (invalid_dpop_proof, <see cref="OAuthReasons.JwkUnsupported"/>).
    /// </summary>
    public static string Compute(JsonElement jwk)
    {
        if (jwk.ValueKind != JsonValueKind.Object || StrictJson.HasDuplicateMembers(jwk))
        {
            throw Unsupported("the JWK must be a JSON object without repeated members");
        }

        string[] required = Member(jwk, "kty") switch
        {
            "EC" => ["crv", "kty", "x", "y"],
            "RSA" => ["e", "kty", "n"],
            "OKP" => ["crv", "kty", "x"],
            _ => throw Unsupported("the JWK kty must be EC, RSA or OKP"),
        };

        var canonical = new StringBuilder("{");
        foreach (var name in required)
        {
            canonical.Append(canonical.Length > 1 ? ",\"" : "\"").Append(name).Append("\":\"").Append(Member(jwk, name)).Append('"');
        }

        canonical.Append('}');
        return StrictBase64Url.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(canonical.ToString())));
    }

    // Required members of these key types are base64url or registered names: printable ASCII that JSON never escapes,
    // so appending the raw value is the canonical form. Anything else is refused rather than escaped by guesswork.
    private static string Member(JsonElement jwk, string name)
    {
        var value = jwk.TryGetProperty(name, out var element) ? StrictJson.StringOrNull(element) : null;
        return value is { Length: > 0 } && value.All(c => c is >= '\x20' and <= '\x7E' and not ('"' or '\\'))
            ? value
            : throw Unsupported($"the JWK member {name} is missing or not a plain string");
    }

    private static OAuthProtocolException Unsupported(string description) =>
        new(OAuthErrors.InvalidDpopProof, OAuthReasons.JwkUnsupported, description);
}
