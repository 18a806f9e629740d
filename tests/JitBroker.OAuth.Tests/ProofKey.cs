using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace JitBroker.OAuth.Tests;

/// <summary>A client's DPoP key (BCL ECDsa/RSA) and a way to sign any header and payload with it, well-formed or not.</summary>
internal sealed class ProofKey : IDisposable
{
    private readonly ECDsa? _ec;
    private readonly RSA? _rsa;

    private ProofKey(string alg, ECDsa? ec, RSA? rsa)
    {
        Alg = alg;
        _ec = ec;
        _rsa = rsa;
    }

    public string Alg { get; }

    public static ProofKey Create(string alg, int rsaBits = 2048) => alg switch
    {
        "ES256" => new ProofKey(alg, ECDsa.Create(ECCurve.NamedCurves.nistP256), null),
        "ES384" => new ProofKey(alg, ECDsa.Create(ECCurve.NamedCurves.nistP384), null),
        "RS256" or "PS256" => new ProofKey(alg, null, RSA.Create(rsaBits)),
        _ => throw new ArgumentOutOfRangeException(nameof(alg)),
    };

    public ECDsa? Ecdsa => _ec;

    public RSA? Rsa => _rsa;

    /// <summary>The public JWK, or with <paramref name="includePrivate"/> the private one too.</summary>
    public JsonObject Jwk(bool includePrivate = false)
    {
        if (_ec is not null)
        {
            var p = _ec.ExportParameters(includePrivate);
            var jwk = new JsonObject
            {
                ["kty"] = "EC", ["crv"] = Alg == "ES256" ? "P-256" : "P-384",
                ["x"] = B64(p.Q.X!), ["y"] = B64(p.Q.Y!),
            };
            if (includePrivate)
            {
                jwk["d"] = B64(p.D!);
            }

            return jwk;
        }

        var r = _rsa!.ExportParameters(includePrivate);
        var rsa = new JsonObject { ["kty"] = "RSA", ["n"] = B64(r.Modulus!), ["e"] = B64(r.Exponent!) };
        if (includePrivate)
        {
            rsa["d"] = B64(r.D!);
            rsa["p"] = B64(r.P!);
            rsa["q"] = B64(r.Q!);
        }

        return rsa;
    }

    public JsonObject Header() => new() { ["typ"] = "dpop+jwt", ["alg"] = Alg, ["jwk"] = Jwk() };

    public string Sign(JsonObject header, JsonObject payload) => SignRaw(header.ToJsonString(), payload.ToJsonString());

    public string SignRaw(string headerJson, string payloadJson)
    {
        var input = B64(Encoding.UTF8.GetBytes(headerJson)) + "." + B64(Encoding.UTF8.GetBytes(payloadJson));
        return input + "." + B64(SignBytes(Encoding.ASCII.GetBytes(input)));
    }

    public byte[] SignBytes(byte[] data, DSASignatureFormat format = DSASignatureFormat.IeeeP1363FixedFieldConcatenation) =>
        _ec is not null
            ? _ec.SignData(data, Alg == "ES256" ? HashAlgorithmName.SHA256 : HashAlgorithmName.SHA384, format)
            : _rsa!.SignData(data, HashAlgorithmName.SHA256, Alg == "PS256" ? RSASignaturePadding.Pss : RSASignaturePadding.Pkcs1);

    public static string B64(byte[] bytes) => Base64Url.EncodeToString(bytes);

    public void Dispose()
    {
        _ec?.Dispose();
        _rsa?.Dispose();
    }
}
