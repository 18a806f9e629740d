using System.Security.Cryptography;
using System.Text.Json;

namespace JitBroker.OAuth;

/// <summary>
/// The key checks and signature check of a DPoP proof (RFC 9449 §4.3 steps on jwk and signature), in order: jwk
/// present, public only, key type and curve fit the alg, RSA size, then the signature with that key. The key comes from
/// the proof itself, so every field of it is attacker-chosen: sizes are checked before anything is imported.
/// </summary>
internal static class DpopSignature
{
    public const int MinRsaBits = 2048;
    public const int MaxRsaBits = 8192;

    // Any member that only a private (or symmetric) JWK has: RFC 7518 §6.2.2, §6.3.2, §6.4.
    private static readonly string[] PrivateMembers = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

    public static void Verify(string alg, JsonElement header, ReadOnlySpan<byte> signingInput, ReadOnlySpan<byte> signature)
    {
        if (!header.TryGetProperty("jwk", out var jwk) || jwk.ValueKind != JsonValueKind.Object)
        {
            throw Refuse(OAuthReasons.DpopJwkMissing, "the DPoP proof header has no jwk object");
        }

        if (PrivateMembers.Any(name => jwk.TryGetProperty(name, out _)))
        {
            throw Refuse(OAuthReasons.DpopJwkPrivate, "the DPoP proof jwk contains private key material");
        }

        var kty = jwk.TryGetProperty("kty", out var ktyElement) ? StrictJson.StringOrNull(ktyElement) : null;
        var expectedKty = alg.StartsWith("ES", StringComparison.Ordinal) ? "EC" : "RSA";
        if (kty != expectedKty)
        {
            throw Refuse(OAuthReasons.DpopJwkKtyMismatch, $"alg {alg} needs a jwk of kty {expectedKty}");
        }

        if (expectedKty == "EC")
        {
            VerifyEcdsa(alg, jwk, signingInput, signature);
        }
        else
        {
            VerifyRsa(alg, jwk, signingInput, signature);
        }
    }

    private static void VerifyEcdsa(string alg, JsonElement jwk, ReadOnlySpan<byte> signingInput, ReadOnlySpan<byte> signature)
    {
        var (curveName, curve, size, hash) = alg == "ES256"
            ? ("P-256", ECCurve.NamedCurves.nistP256, 32, HashAlgorithmName.SHA256)
            : ("P-384", ECCurve.NamedCurves.nistP384, 48, HashAlgorithmName.SHA384);
        if ((jwk.TryGetProperty("crv", out var crv) ? StrictJson.StringOrNull(crv) : null) != curveName)
        {
            throw Refuse(OAuthReasons.DpopJwkCurveMismatch, $"alg {alg} needs a jwk on curve {curveName}");
        }

        var x = Coordinate(jwk, "x", size);
        var y = Coordinate(jwk, "y", size);
        using var key = ECDsa.Create();
        try
        {
            key.ImportParameters(new ECParameters { Curve = curve, Q = new ECPoint { X = x, Y = y } });
        }
        catch (CryptographicException)
        {
            throw Refuse(OAuthReasons.DpopJwkInvalid, "the DPoP proof jwk is not a point on its curve");
        }

        // JWS ECDSA signatures are R||S of fixed length (RFC 7518 §3.4); a DER signature has another length or fails.
        if (signature.Length != 2 * size || !key.VerifyData(signingInput, signature, hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation))
        {
            throw BadSignature();
        }
    }

    private static void VerifyRsa(string alg, JsonElement jwk, ReadOnlySpan<byte> signingInput, ReadOnlySpan<byte> signature)
    {
        var modulus = Integer(jwk, "n", MaxRsaBits / 4); // room to report an oversized key as such
        var exponent = Integer(jwk, "e", 8);
        var bits = (modulus.Length * 8) - (int.LeadingZeroCount(modulus[0]) - 24);
        if (bits is < MinRsaBits or > MaxRsaBits)
        {
            throw Refuse(OAuthReasons.DpopJwkRsaKeySize, $"the DPoP proof RSA key must have {MinRsaBits} to {MaxRsaBits} bits");
        }

        if ((exponent[^1] & 1) == 0 || exponent is [1])
        {
            throw Refuse(OAuthReasons.DpopJwkInvalid, "the DPoP proof RSA exponent is not odd and above 1");
        }

        using var key = RSA.Create();
        try
        {
            key.ImportParameters(new RSAParameters { Modulus = modulus, Exponent = exponent });
        }
        catch (CryptographicException)
        {
            throw Refuse(OAuthReasons.DpopJwkInvalid, "the DPoP proof RSA key cannot be imported");
        }

        var padding = alg == "PS256" ? RSASignaturePadding.Pss : RSASignaturePadding.Pkcs1;
        if (signature.Length != modulus.Length || !key.VerifyData(signingInput, signature, HashAlgorithmName.SHA256, padding))
        {
            throw BadSignature();
        }
    }

    private static byte[] Coordinate(JsonElement jwk, string name, int size) =>
        Base64UrlMember(jwk, name) is { } bytes && bytes.Length == size
            ? bytes
            : throw Refuse(OAuthReasons.DpopJwkInvalid, $"the DPoP proof jwk {name} is not a base64url coordinate of {size} bytes");

    // RFC 7518 §6.3.1: unsigned big-endian in the fewest octets, so no leading zero octet.
    private static byte[] Integer(JsonElement jwk, string name, int maxBytes) =>
        Base64UrlMember(jwk, name) is { Length: > 0 } bytes && bytes.Length <= maxBytes && bytes[0] != 0
            ? bytes
            : throw Refuse(OAuthReasons.DpopJwkInvalid, $"the DPoP proof jwk {name} is not a minimal base64url integer");

    private static byte[]? Base64UrlMember(JsonElement jwk, string name) =>
        jwk.TryGetProperty(name, out var element) && StrictJson.StringOrNull(element) is { } text && StrictBase64Url.TryDecode(text, out var bytes)
            ? bytes
            : null;

    private static OAuthProtocolException BadSignature() => Refuse(OAuthReasons.DpopSignatureInvalid, "the DPoP proof signature does not verify with its jwk");

    private static OAuthProtocolException Refuse(string reason, string description) => new(OAuthErrors.InvalidDpopProof, reason, description);
}
