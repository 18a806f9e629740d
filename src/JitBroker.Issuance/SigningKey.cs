using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using JitBroker.Core;

namespace JitBroker.Issuance;

/// <summary>
/// An ES256 (ECDSA P-256, SHA-256) key. Private material never leaves this object: callers get
/// <see cref="Sign"/>, <see cref="Verify"/> and the public JWK. A key loaded from a public key only
/// (a previous key still published during rotation) verifies but cannot sign (<see cref="CanSign"/>).
/// Safe for concurrent use; disposing it releases the key, after which every member throws.
/// </summary>
public sealed class SigningKey : IDisposable
{
    /// <summary>The JWS algorithm of every key: ES256 (RFC 7518 §3.4).</summary>
    public const string Es256 = "ES256";

    /// <summary>Bytes of one P-256 coordinate and of each half of an ES256 signature (RFC 7518 §3.4, §6.2.1.2).</summary>
    internal const int CoordinateSize = 32;

    /// <summary>An ES256 JWS signature is R || S, 64 bytes (IEEE P1363), never DER.</summary>
    internal const int SignatureSize = 2 * CoordinateSize;

    private const string P256Oid = "1.2.840.10045.3.1.7";

    private readonly ECDsa _key;
    private readonly string _x;
    private readonly string _y;
    private bool _disposed;

    private SigningKey(ECDsa key, bool canSign)
    {
        var parameters = key.ExportParameters(includePrivateParameters: false);
        if (!IsP256(parameters.Curve) || parameters.Q.X is null || parameters.Q.Y is null)
        {
            throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Issuance.SigningKeyUnsupported,
                "The signing key must be an EC P-256 key (ES256).");
        }

        _key = key;
        CanSign = canSign;
        _x = Base64Url.EncodeToString(FullSize(parameters.Q.X));
        _y = Base64Url.EncodeToString(FullSize(parameters.Q.Y));
        KeyId = Thumbprint(_x, _y);
    }

    /// <summary>RFC 7638 JWK thumbprint (base64url SHA-256 of the canonical public JWK); stable for a key.</summary>
    public string KeyId { get; }

    /// <summary>Always <c>ES256</c>.</summary>
#pragma warning disable CA1822 // a key answers for its own algorithm, so callers never hard-code ES256
    public string Algorithm => Es256;
#pragma warning restore CA1822

    /// <summary>False for a verification-only key built from a public key.</summary>
    public bool CanSign { get; }

    /// <summary>Generates a new P-256 key in memory.</summary>
    public static SigningKey Generate() => new(ECDsa.Create(ECCurve.NamedCurves.nistP256), canSign: true);

    /// <summary>
    /// A P-256 key from its private scalar alone (32 bytes, big-endian, in [1, order − 1]); the public point is
    /// computed from it by the platform's crypto library. Used for keys derived from a rotation root secret.
    /// </summary>
    internal static SigningKey FromPrivateScalar(byte[] d)
    {
        var key = ECDsa.Create();
        try
        {
            key.ImportParameters(new ECParameters { Curve = ECCurve.NamedCurves.nistP256, D = d });
            return new SigningKey(key, canSign: true);
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Loads a private key from PEM text: PKCS#8 (<c>PRIVATE KEY</c>) or SEC1 (<c>EC PRIVATE KEY</c>).
    /// Throws <see cref="BrokerException"/> for anything else, including RSA and non-P-256 curves.
    /// </summary>
    public static SigningKey FromPrivateKeyPem(ReadOnlySpan<char> pem) =>
        Import(pem, canSign: true, "PRIVATE KEY", "EC PRIVATE KEY");

    /// <summary>Loads a verification-only key from a SubjectPublicKeyInfo PEM (<c>PUBLIC KEY</c>).</summary>
    public static SigningKey FromPublicKeyPem(ReadOnlySpan<char> pem) =>
        Import(pem, canSign: false, "PUBLIC KEY");

    /// <summary>Signs with ES256 and returns the 64-byte R || S signature JWS needs.</summary>
    /// <exception cref="InvalidOperationException">The key is verification-only.</exception>
    public byte[] Sign(ReadOnlySpan<byte> data)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!CanSign)
        {
            throw new InvalidOperationException($"Key {KeyId} is a verification-only key.");
        }

        // The default signature format of ECDsa.SignData is IEEE P1363 (r || s), exactly JWS ES256.
        var signature = new byte[SignatureSize];
        var written = _key.SignData(data, signature, HashAlgorithmName.SHA256);
        return written == SignatureSize ? signature : throw new CryptographicException("Unexpected ES256 signature size.");
    }

    /// <summary>True only for a valid 64-byte R || S ES256 signature of <paramref name="data"/>; never throws for bad input.</summary>
    public bool Verify(ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (signature.Length != SignatureSize)
        {
            return false;
        }

        try
        {
            return _key.VerifyData(data, signature, HashAlgorithmName.SHA256);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    /// <summary>
    /// The public key as a JWK (RFC 7517/7518): <c>kty, crv, x, y, kid, use, alg</c>. A new object on
    /// each call, so callers may change it freely.
    /// </summary>
    public JsonObject ToPublicJwk()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new JsonObject
        {
            ["kty"] = "EC",
            ["crv"] = "P-256",
            ["x"] = _x,
            ["y"] = _y,
            ["kid"] = KeyId,
            ["use"] = "sig",
            ["alg"] = Es256,
        };
    }

    public void Dispose()
    {
        _disposed = true;
        _key.Dispose();
    }

    public override string ToString() => $"SigningKey(kid={KeyId}, {(CanSign ? "signing" : "verification-only")})";

    private static SigningKey Import(ReadOnlySpan<char> pem, bool canSign, params string[] labels)
    {
        if (!PemEncoding.TryFind(pem, out var fields) || !labels.Contains(pem[fields.Label].ToString(), StringComparer.Ordinal))
        {
            throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Issuance.SigningKeyUnreadable,
                $"Expected a PEM block labelled {string.Join(" or ", labels)}.");
        }

        var key = ECDsa.Create();
        try
        {
            // Import only the block we checked, so a file holding a public key first and a private key
            // second cannot smuggle in a different key than the one whose label we accepted.
            key.ImportFromPem(pem[fields.Location]);
            return new SigningKey(key, canSign);
        }
        catch (CryptographicException e)
        {
            key.Dispose();
            // RSA and other non-EC keys fail here: ECDsa cannot import them.
            throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Issuance.SigningKeyUnsupported,
                "The key is not an EC P-256 key (ES256).", e);
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

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

    // RFC 7638 §3.2: required members only, lexicographic order, no whitespace.
    private static string Thumbprint(string x, string y)
    {
        var canonical = $$"""{"crv":"P-256","kty":"EC","x":"{{x}}","y":"{{y}}"}""";
        return Base64Url.EncodeToString(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
    }
}
