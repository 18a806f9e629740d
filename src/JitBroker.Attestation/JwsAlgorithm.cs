using System.Security.Cryptography;
using System.Text.Json;

namespace JitBroker.Attestation;

internal enum KeyFamily
{
    Ec,
    Rsa,
}

/// <summary>The JWT-SVID algorithm set (JWT-SVID §2.1; RFC 7518 §3.3-3.5) and nothing else.</summary>
internal sealed class JwsAlgorithm
{
    private static readonly JwsAlgorithm[] All =
    [
        new("RS256", KeyFamily.Rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1, null, 0),
        new("RS384", KeyFamily.Rsa, HashAlgorithmName.SHA384, RSASignaturePadding.Pkcs1, null, 0),
        new("RS512", KeyFamily.Rsa, HashAlgorithmName.SHA512, RSASignaturePadding.Pkcs1, null, 0),
        new("PS256", KeyFamily.Rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pss, null, 0),
        new("PS384", KeyFamily.Rsa, HashAlgorithmName.SHA384, RSASignaturePadding.Pss, null, 0),
        new("PS512", KeyFamily.Rsa, HashAlgorithmName.SHA512, RSASignaturePadding.Pss, null, 0),
        new("ES256", KeyFamily.Ec, HashAlgorithmName.SHA256, null, "P-256", 32),
        new("ES384", KeyFamily.Ec, HashAlgorithmName.SHA384, null, "P-384", 48),
        new("ES512", KeyFamily.Ec, HashAlgorithmName.SHA512, null, "P-521", 66),
    ];

    private static readonly Dictionary<string, JwsAlgorithm> ByName = All.ToDictionary(a => a.Name, StringComparer.Ordinal);

    private JwsAlgorithm(string name, KeyFamily family, HashAlgorithmName hash, RSASignaturePadding? padding, string? curve, int coordinateBytes)
    {
        Name = name;
        Family = family;
        Hash = hash;
        Padding = padding;
        Curve = curve;
        CoordinateBytes = coordinateBytes;
    }

    public string Name { get; }

    public KeyFamily Family { get; }

    public HashAlgorithmName Hash { get; }

    /// <summary>RSA padding; .NET's PSS uses a salt as long as the hash, as RFC 7518 §3.5 requires.</summary>
    public RSASignaturePadding? Padding { get; }

    /// <summary>JWK <c>crv</c> an ES algorithm is bound to (RFC 7518 §3.4).</summary>
    public string? Curve { get; }

    /// <summary>Size of one EC coordinate; an ES signature is exactly twice this (R || S).</summary>
    public int CoordinateBytes { get; }

    public static bool TryGet(string name, out JwsAlgorithm algorithm) => ByName.TryGetValue(name, out algorithm!);

    /// <summary>
    /// <see cref="TryGet(string, out JwsAlgorithm)"/> for a token header's <c>alg</c> member: a JSON string equal (after
    /// unescaping, ordinal) to one of the nine names. Compares in place, so a verified token costs no string for it.
    /// </summary>
    public static bool TryGet(JsonElement value, out JwsAlgorithm algorithm)
    {
        if (value.ValueKind == JsonValueKind.String)
        {
            foreach (var candidate in All)
            {
                if (value.ValueEquals(candidate.Name))
                {
                    algorithm = candidate;
                    return true;
                }
            }
        }

        algorithm = null!;
        return false;
    }

    public static bool IsSupported(string name) => ByName.ContainsKey(name);
}
