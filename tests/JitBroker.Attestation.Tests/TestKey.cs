using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace JitBroker.Attestation.Tests;

/// <summary>A signing key generated in-test, with its public JWK for bundle files.</summary>
public sealed class TestKey
{
    private TestKey(string kid, AsymmetricAlgorithm key) => (Kid, Key) = (kid, key);

    public string Kid { get; }

    public AsymmetricAlgorithm Key { get; }

    public static TestKey Ec(string kid, ECCurve curve) => new(kid, ECDsa.Create(curve));

    public static TestKey Rsa(string kid, int bits = 2048) => new(kid, RSA.Create(bits));

    /// <summary>The public JWK; <paramref name="use"/> null omits the member; <paramref name="extra"/> adds/overrides members.</summary>
    public Dictionary<string, object?> Jwk(string? use = "jwt-svid", string? kid = null, Dictionary<string, object?>? extra = null)
    {
        var jwk = new Dictionary<string, object?>();
        switch (Key)
        {
            case ECDsa ec:
                var p = ec.ExportParameters(false);
                jwk["kty"] = "EC";
                jwk["crv"] = ec.KeySize switch { 256 => "P-256", 384 => "P-384", _ => "P-521" };
                jwk["x"] = B64(p.Q.X!);
                jwk["y"] = B64(p.Q.Y!);
                break;
            case RSA rsa:
                var r = rsa.ExportParameters(false);
                jwk["kty"] = "RSA";
                jwk["n"] = B64(r.Modulus!);
                jwk["e"] = B64(r.Exponent!);
                break;
        }

        jwk["kid"] = kid ?? Kid;
        if (use is not null)
        {
            jwk["use"] = use;
        }

        foreach (var (name, value) in extra ?? [])
        {
            jwk[name] = value;
        }

        return jwk;
    }

    /// <summary>Every string of public key material, to prove none of it leaks into messages.</summary>
    public IEnumerable<string> PublicMaterial() =>
        Jwk().Where(p => p.Key is "x" or "y" or "n").Select(p => (string)p.Value!);

    public byte[] Sign(string alg, byte[] input) => (alg[..2], Key) switch
    {
        ("ES", ECDsa ec) => ec.SignData(input, Hash(alg)),
        ("RS", RSA rsa) => rsa.SignData(input, Hash(alg), RSASignaturePadding.Pkcs1),
        ("PS", RSA rsa) => rsa.SignData(input, Hash(alg), RSASignaturePadding.Pss),
        _ => throw new ArgumentException($"{alg} does not fit key {Kid}"),
    };

    public static string B64(ReadOnlySpan<byte> bytes) => Base64Url.EncodeToString(bytes);

    public static string B64Json(object value) => B64(JsonSerializer.SerializeToUtf8Bytes(value));

    public static string B64Text(string text) => B64(Encoding.UTF8.GetBytes(text));

    private static HashAlgorithmName Hash(string alg) => alg[2..] switch
    {
        "256" => HashAlgorithmName.SHA256,
        "384" => HashAlgorithmName.SHA384,
        _ => HashAlgorithmName.SHA512,
    };
}
