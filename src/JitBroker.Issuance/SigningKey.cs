using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using JitBroker.Core;

namespace JitBroker.Issuance;

/// <summary>
/// A JWS signing key with exactly one algorithm (<see cref="SigningAlgorithms"/>): ES256 (ECDSA P-256), or RS256 / PS256
/// (RSA, 2048–8192 bits). Private material never leaves this object: callers get <see cref="Sign"/>, <see cref="Verify"/>
/// and the public JWK. A key loaded from a public key only (a previous key still published during rotation) verifies
/// but cannot sign (<see cref="CanSign"/>). Safe for concurrent use; disposing it releases the key, after which every
/// member throws.
/// </summary>
public sealed partial class SigningKey : IDisposable
{
    /// <summary>ES256 (RFC 7518 §3.4); the algorithm of audit checkpoint keys, which never change algorithm.</summary>
    public const string Es256 = SigningAlgorithms.Es256;

    /// <summary>Bytes of one P-256 coordinate and of each half of an ES256 signature (RFC 7518 §3.4, §6.2.1.2).</summary>
    internal const int CoordinateSize = 32;

    /// <summary>An ES256 JWS signature is R || S, 64 bytes (IEEE P1363), never DER.</summary>
    internal const int Es256SignatureSize = 2 * CoordinateSize;

    private const string P256Oid = "1.2.840.10045.3.1.7";

    private readonly ECDsa? _ec;
    private readonly RSA? _rsa;
    private readonly RSASignaturePadding? _padding;

    // The public JWK's key members (RFC 7518 §6.2.1 / §6.3.1), in RFC 7638 canonical (lexicographic) order.
    private readonly (string Name, string Value)[] _publicMembers;
    private bool _disposed;

    private SigningKey(ECDsa key, bool canSign)
    {
        var parameters = key.ExportParameters(includePrivateParameters: false);
        if (!IsP256(parameters.Curve) || parameters.Q.X is null || parameters.Q.Y is null)
        {
            throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Issuance.SigningKeyUnsupported,
                "The signing key must be an EC P-256 key (ES256).");
        }

        _ec = key;
        CanSign = canSign;
        Algorithm = Es256;
        SignatureSize = Es256SignatureSize;
        _publicMembers =
        [
            ("crv", "P-256"), ("kty", "EC"),
            ("x", Base64Url.EncodeToString(FullSize(parameters.Q.X))),
            ("y", Base64Url.EncodeToString(FullSize(parameters.Q.Y))),
        ];
        KeyId = Thumbprint(_publicMembers);
    }

    private SigningKey(RSA key, string algorithm, bool canSign)
    {
        if (key.KeySize is < SigningAlgorithms.MinRsaKeyBits or > SigningAlgorithms.MaxRsaKeyBits)
        {
            throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Issuance.SigningKeyUnsupported,
                $"The RSA key has {key.KeySize} bits; {algorithm} needs {SigningAlgorithms.MinRsaKeyBits} to {SigningAlgorithms.MaxRsaKeyBits} bits (RFC 7518 §3.3).");
        }

        var parameters = key.ExportParameters(includePrivateParameters: false);
        _rsa = key;
        // PSS in .NET uses MGF1 with the signing hash and a salt as long as the hash: exactly RFC 7518 §3.5's PS256.
        _padding = algorithm == SigningAlgorithms.Ps256 ? RSASignaturePadding.Pss : RSASignaturePadding.Pkcs1;
        CanSign = canSign;
        Algorithm = algorithm;
        SignatureSize = (key.KeySize + 7) / 8;
        _publicMembers =
        [
            ("e", Base64Url.EncodeToString(WithoutLeadingZeros(parameters.Exponent!))),
            ("kty", "RSA"),
            ("n", Base64Url.EncodeToString(WithoutLeadingZeros(parameters.Modulus!))),
        ];
        KeyId = Thumbprint(_publicMembers);
    }

    /// <summary>RFC 7638 JWK thumbprint (base64url SHA-256 of the canonical public JWK); stable for a key.</summary>
    public string KeyId { get; }

    /// <summary>The one JWS algorithm this key signs and verifies with: <c>ES256</c>, <c>RS256</c> or <c>PS256</c>.</summary>
    public string Algorithm { get; }

    /// <summary>False for a verification-only key built from a public key.</summary>
    public bool CanSign { get; }

    /// <summary>Bytes of every signature this key makes and accepts: 64 for ES256, the modulus length for RSA.</summary>
    public int SignatureSize { get; }

    /// <summary>Signs with the key's algorithm and returns the JWS signature bytes (ES256: the 64-byte R || S).</summary>
    /// <exception cref="InvalidOperationException">The key is verification-only.</exception>
    public byte[] Sign(ReadOnlySpan<byte> data)
    {
        var signature = new byte[SignatureSize];
        Sign(data, signature);
        return signature;
    }

    /// <summary>
    /// <see cref="Sign(ReadOnlySpan{byte})"/> into <paramref name="destination"/> (at least <see cref="SignatureSize"/> bytes), for
    /// a caller that encodes the signature at once and needs no array of it. Returns <see cref="SignatureSize"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The key is verification-only.</exception>
    public int Sign(ReadOnlySpan<byte> data, Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!CanSign)
        {
            throw new InvalidOperationException($"Key {KeyId} is a verification-only key.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, SignatureSize, nameof(destination));
        // The default signature format of ECDsa's TrySignData is IEEE P1363 (r || s), exactly JWS ES256. TrySignData, not the
        // span SignData: on .NET 10 the latter allocates ~200 bytes per ECDSA signature (measured; TrySignData none).
        var signed = _ec is not null
            ? _ec.TrySignData(data, destination, HashAlgorithmName.SHA256, out var written)
            : _rsa!.TrySignData(data, destination, HashAlgorithmName.SHA256, _padding!, out written);
        return signed && written == SignatureSize ? written : throw new CryptographicException($"Unexpected {Algorithm} signature size.");
    }

    /// <summary>True only for a valid <see cref="SignatureSize"/>-byte signature of <paramref name="data"/> under this key's algorithm; never throws for bad input.</summary>
    public bool Verify(ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (signature.Length != SignatureSize)
        {
            return false;
        }

        try
        {
            return _ec is not null
                ? _ec.VerifyData(data, signature, HashAlgorithmName.SHA256)
                : _rsa!.VerifyData(data, signature, HashAlgorithmName.SHA256, _padding!);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    /// <summary>
    /// The public key as a JWK (RFC 7517/7518): <c>kty, crv, x, y</c> (EC) or <c>kty, n, e</c> (RSA), then
    /// <c>kid, use, alg</c>. A new object on each call, so callers may change it freely. Never a private member.
    /// </summary>
    public JsonObject ToPublicJwk()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var jwk = new JsonObject { ["kty"] = _ec is not null ? "EC" : "RSA" };
        foreach (var (name, value) in _publicMembers)
        {
            jwk[name] = value;
        }

        jwk["kid"] = KeyId;
        jwk["use"] = "sig";
        jwk["alg"] = Algorithm;
        return jwk;
    }

    public void Dispose()
    {
        _disposed = true;
        _ec?.Dispose();
        _rsa?.Dispose();
    }

    public override string ToString() => $"SigningKey(kid={KeyId}, {Algorithm}, {(CanSign ? "signing" : "verification-only")})";

    private static bool IsP256(ECCurve curve) =>
        curve.IsNamed && (curve.Oid.Value == P256Oid || curve.Oid.FriendlyName is "nistP256" or "ECDSA_P256" or "secp256r1");

    // RFC 7518 §6.2.1.2: coordinates are always the full field size, leading zeros kept.
    private static byte[] FullSize(byte[] coordinate)
    {
        if (coordinate.Length == CoordinateSize)
        {
            return coordinate;
        }

        var padded = new byte[CoordinateSize];
        coordinate.CopyTo(padded, CoordinateSize - coordinate.Length);
        return padded;
    }

    // RFC 7518 §6.3.1.1/§6.3.1.2: n and e are unsigned big-endian in the fewest octets; a leading zero would change the thumbprint.
    private static byte[] WithoutLeadingZeros(byte[] value)
    {
        var first = Array.FindIndex(value, b => b != 0);
        return first <= 0 ? value : value[first..];
    }

    // RFC 7638 §3.2: required members only, lexicographic order, no whitespace. Every value is base64url or a
    // fixed ASCII name, so no JSON escaping can arise.
    private static string Thumbprint((string Name, string Value)[] members)
    {
        var canonical = "{" + string.Join(",", members.Select(m => $"\"{m.Name}\":\"{m.Value}\"")) + "}";
        return Base64Url.EncodeToString(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
    }
}
