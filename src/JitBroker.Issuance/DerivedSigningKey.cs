using System.Buffers.Binary;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;

namespace JitBroker.Issuance;

/// <summary>
/// The token key of one rotation epoch, derived from a root secret: every replica and every restart holding the same
/// secret derives the same key for the same epoch, so rotation needs no shared store and no coordination.
/// <para>
/// d = (OS2IP(HKDF-SHA256(ikm = root secret, salt = none, info = "jitbroker token signing key v1" || epoch as 8-byte
/// big-endian two's complement, L = 48)) mod (order − 1)) + 1 — the "extra random bits" method of FIPS 186-5 A.2.1:
/// 128 bits more than the order, so the bias is below 2^-128 and no scalar is ever 0 or ≥ order (no rejection loop needed).
/// The public point is computed from d by the platform (OpenSSL on Linux). Changing any of this changes every key: the
/// "v1" in the info string is there for that.
/// </para>
/// </summary>
public static class DerivedSigningKey
{
    /// <summary>Root secrets shorter than this are refused: the keys are only as strong as the secret.</summary>
    public const int MinRootSecretBytes = 32;

    private const int DerivedBytes = 48;

    private static readonly byte[] InfoPrefix = Encoding.ASCII.GetBytes("jitbroker token signing key v1");

    // The order of the P-256 base point (SEC 2 §2.4.2).
    private static readonly BigInteger Order = BigInteger.Parse(
        "00FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", System.Globalization.NumberStyles.HexNumber,
        System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The signing key of <paramref name="epoch"/>. The caller owns (and disposes) it.</summary>
    public static SigningKey ForEpoch(ReadOnlySpan<byte> rootSecret, long epoch)
    {
        var d = PrivateScalar(rootSecret, epoch);
        try
        {
            return SigningKey.FromPrivateScalar(d);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(d);
        }
    }

    /// <summary>d for <paramref name="epoch"/>, 32 bytes big-endian (exposed to tests, which check it against OpenSSL).</summary>
    internal static byte[] PrivateScalar(ReadOnlySpan<byte> rootSecret, long epoch)
    {
        if (rootSecret.Length < MinRootSecretBytes)
        {
            throw new ArgumentException($"The root secret must be at least {MinRootSecretBytes} bytes.", nameof(rootSecret));
        }

        Span<byte> info = stackalloc byte[InfoPrefix.Length + sizeof(long)];
        InfoPrefix.CopyTo(info);
        BinaryPrimitives.WriteInt64BigEndian(info[InfoPrefix.Length..], epoch);
        Span<byte> okm = stackalloc byte[DerivedBytes];
        HKDF.DeriveKey(HashAlgorithmName.SHA256, rootSecret, okm, salt: [], info);
        var scalar = (new BigInteger(okm, isUnsigned: true, isBigEndian: true) % (Order - 1)) + 1;
        CryptographicOperations.ZeroMemory(okm);

        var bytes = scalar.ToByteArray(isUnsigned: true, isBigEndian: true);
        var d = new byte[SigningKey.CoordinateSize];
        bytes.CopyTo(d, d.Length - bytes.Length);
        CryptographicOperations.ZeroMemory(bytes);
        return d;
    }

    /// <summary>A fingerprint safe to log: the first 16 hex digits of SHA-256 over the secret.</summary>
    public static string Fingerprint(ReadOnlySpan<byte> rootSecret) =>
        Convert.ToHexStringLower(SHA256.HashData(rootSecret))[..16];
}
