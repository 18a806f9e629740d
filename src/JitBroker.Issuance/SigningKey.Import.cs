using System.Security.Cryptography;
using JitBroker.Core;

namespace JitBroker.Issuance;

public sealed partial class SigningKey
{
    private static readonly string[] EcPrivateLabels = ["PRIVATE KEY", "EC PRIVATE KEY"];
    private static readonly string[] RsaPrivateLabels = ["PRIVATE KEY", "RSA PRIVATE KEY"];
    private static readonly string[] EcPublicLabels = ["PUBLIC KEY"];
    private static readonly string[] RsaPublicLabels = ["PUBLIC KEY", "RSA PUBLIC KEY"];

    /// <summary>Generates a new key in memory for <paramref name="algorithm"/>: P-256 for ES256, RSA 3072 bits for RS256/PS256.</summary>
    /// <exception cref="ArgumentException">An algorithm not in <see cref="SigningAlgorithms.All"/>.</exception>
    public static SigningKey Generate(string algorithm = Es256)
    {
        RequireSupported(algorithm);
        if (algorithm == Es256)
        {
            return new SigningKey(ECDsa.Create(ECCurve.NamedCurves.nistP256), canSign: true);
        }

        var rsa = RSA.Create(SigningAlgorithms.GeneratedRsaKeyBits);
        try
        {
            return new SigningKey(rsa, algorithm, canSign: true);
        }
        catch
        {
            rsa.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A P-256 key from its private scalar alone (32 bytes, big-endian, in [1, order − 1]); the public point is
    /// computed from it by the platform's crypto library. Used for keys derived from a rotation root secret (ES256 only).
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
    /// Loads a private key for <paramref name="algorithm"/> from PEM text: ES256 takes PKCS#8 (<c>PRIVATE KEY</c>) or SEC1
    /// (<c>EC PRIVATE KEY</c>) P-256; RS256/PS256 take PKCS#8 or PKCS#1 (<c>RSA PRIVATE KEY</c>) RSA of 2048–8192 bits.
    /// Throws <see cref="BrokerException"/> (<see cref="Reasons.Issuance.SigningKeyUnsupported"/>) for a key of another
    /// type, naming both the key's type and the algorithm, and (<see cref="Reasons.Issuance.SigningKeyUnreadable"/>) for
    /// text holding no such PEM block.
    /// </summary>
    public static SigningKey FromPrivateKeyPem(ReadOnlySpan<char> pem, string algorithm = Es256)
    {
        RequireSupported(algorithm);
        return Import(pem, algorithm, canSign: true, algorithm == Es256 ? EcPrivateLabels : RsaPrivateLabels);
    }

    /// <summary>
    /// Loads a verification-only key for <paramref name="algorithm"/> from a SubjectPublicKeyInfo PEM (<c>PUBLIC KEY</c>;
    /// for RSA also PKCS#1 <c>RSA PUBLIC KEY</c>). A key of another type is refused as in <see cref="FromPrivateKeyPem"/>.
    /// </summary>
    public static SigningKey FromPublicKeyPem(ReadOnlySpan<char> pem, string algorithm = Es256)
    {
        RequireSupported(algorithm);
        return Import(pem, algorithm, canSign: false, algorithm == Es256 ? EcPublicLabels : RsaPublicLabels);
    }

    /// <summary>
    /// A previous key still published during rotation, whose algorithm follows from its type: an EC P-256 key is ES256
    /// (its only algorithm); an RSA key is <paramref name="configuredAlgorithm"/> when that is RS256 or PS256, and RS256
    /// otherwise (the broker signing ES256 now cannot tell which RSA algorithm an earlier key used; RS256 is the one RFC 9068
    /// names). So a switch of algorithm keeps the old key's tokens verifying, each with its own key's algorithm only.
    /// </summary>
    public static SigningKey FromPreviousPublicKeyPem(ReadOnlySpan<char> pem, string configuredAlgorithm)
    {
        RequireSupported(configuredAlgorithm);
        // Judged by what the block holds, whatever its label: an EC private key where a public key belongs is then refused
        // as unreadable (the wrong kind of PEM), not as an RSA algorithm mismatch.
        if (PemEncoding.TryFind(pem, out var fields) && KindOf(pem[fields.Location]) == KeyKind.Ec)
        {
            return FromPublicKeyPem(pem, Es256);
        }

        return FromPublicKeyPem(pem, SigningAlgorithms.IsRsa(configuredAlgorithm) ? configuredAlgorithm : SigningAlgorithms.Rs256);
    }

    private static SigningKey Import(ReadOnlySpan<char> pem, string algorithm, bool canSign, string[] labels)
    {
        if (!PemEncoding.TryFind(pem, out var fields))
        {
            throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Issuance.SigningKeyUnreadable,
                $"Expected a PEM block labelled {string.Join(" or ", labels)}.");
        }

        // Only the block we checked is imported, so a file holding a public key first and a private key second cannot
        // smuggle in a different key than the one whose label we accepted.
        var block = pem[fields.Location];
        var label = pem[fields.Label].ToString();
        if (!labels.Contains(label, StringComparer.Ordinal))
        {
            // A key of the other type (an "RSA PRIVATE KEY" for ES256, an "EC PRIVATE KEY" for RS256) is named as such.
            var kind = KindOf(block);
            if (kind != KeyKind.Unknown && kind != (algorithm == Es256 ? KeyKind.Ec : KeyKind.Rsa))
            {
                throw Mismatch(kind, algorithm);
            }

            throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Issuance.SigningKeyUnreadable,
                $"Expected a PEM block labelled {string.Join(" or ", labels)}, not {label}.");
        }

        return algorithm == Es256 ? ImportEc(block, canSign) : ImportRsa(block, algorithm, canSign);
    }

    private static SigningKey ImportEc(ReadOnlySpan<char> block, bool canSign)
    {
        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(block);
            return new SigningKey(key, canSign);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            key.Dispose();
            // RSA and other non-EC keys fail here: ECDsa cannot import them.
            throw Mismatch(KindOf(block), Es256, e);
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    private static SigningKey ImportRsa(ReadOnlySpan<char> block, string algorithm, bool canSign)
    {
        var key = RSA.Create();
        try
        {
            key.ImportFromPem(block);
            return new SigningKey(key, algorithm, canSign);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            key.Dispose();
            throw Mismatch(KindOf(block), algorithm, e);
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    private static BrokerException Mismatch(KeyKind kind, string algorithm, Exception? inner = null)
    {
        var needs = algorithm == Es256
            ? "an EC P-256 key"
            : $"an RSA key of {SigningAlgorithms.MinRsaKeyBits} to {SigningAlgorithms.MaxRsaKeyBits} bits";
        var what = kind switch
        {
            KeyKind.Ec => "an EC key",
            KeyKind.Rsa => "an RSA key",
            _ => "not a key of a type the broker reads",
        };
        return new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Issuance.SigningKeyUnsupported,
            $"The key is {what}, but the signing algorithm {algorithm} needs {needs}.", inner);
    }

    /// <summary>What a PEM block holds, for error messages and for a previous key's algorithm; never throws.</summary>
    private static KeyKind KindOf(ReadOnlySpan<char> block)
    {
        try
        {
            using var ec = ECDsa.Create();
            ec.ImportFromPem(block);
            return KeyKind.Ec;
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            // Not EC: try RSA.
        }

        try
        {
            using var rsa = RSA.Create();
            rsa.ImportFromPem(block);
            return KeyKind.Rsa;
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            return KeyKind.Unknown;
        }
    }

    private static void RequireSupported(string algorithm)
    {
        if (!SigningAlgorithms.IsSupported(algorithm))
        {
            throw new ArgumentException($"Unsupported signing algorithm '{algorithm}'; use {string.Join(", ", SigningAlgorithms.All)}.", nameof(algorithm));
        }
    }

    private enum KeyKind
    {
        Unknown,
        Ec,
        Rsa,
    }
}
