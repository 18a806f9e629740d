using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace JitBroker.Attestation;

/// <summary>
/// One JWT-SVID signing key of a trust bundle, imported once per bundle load. The BCL does not promise
/// that one <see cref="ECDsa"/>/<see cref="RSA"/> instance is safe for concurrent use, so verifiers are
/// kept in a small pool: a request rents one (importing a new one only under contention) and returns it.
/// </summary>
internal sealed class BundleKey
{
    private const int MaxPooled = 16;

    private readonly ConcurrentBag<AsymmetricAlgorithm> _pool = [];
    private readonly Func<AsymmetricAlgorithm> _create;

    private BundleKey(string keyId, KeyFamily family, string? curve, string? jwkAlgorithm, int rsaModulusBytes, Func<AsymmetricAlgorithm> create)
    {
        KeyId = keyId;
        Family = family;
        Curve = curve;
        JwkAlgorithm = jwkAlgorithm;
        RsaModulusBytes = rsaModulusBytes;
        _create = create;
        _pool.Add(create()); // imports (and so validates) the key at load time
    }

    public string KeyId { get; }

    public KeyFamily Family { get; }

    /// <summary>JWK <c>crv</c> of an EC key.</summary>
    public string? Curve { get; }

    /// <summary>The JWK's own <c>alg</c>, when it pins one (RFC 7517 §4.4).</summary>
    public string? JwkAlgorithm { get; }

    public int RsaModulusBytes { get; }

    /// <summary>Imports an EC public key; throws <see cref="CryptographicException"/> for a point not on the curve.</summary>
    public static BundleKey ForEc(string keyId, string curveName, ECCurve curve, byte[] x, byte[] y, string? jwkAlgorithm)
    {
        var parameters = new ECParameters { Curve = curve, Q = new ECPoint { X = x, Y = y } };
        return new BundleKey(keyId, KeyFamily.Ec, curveName, jwkAlgorithm, 0, () => ECDsa.Create(parameters));
    }

    public static BundleKey ForRsa(string keyId, byte[] modulus, byte[] exponent, string? jwkAlgorithm)
    {
        var parameters = new RSAParameters { Modulus = modulus, Exponent = exponent };
        return new BundleKey(keyId, KeyFamily.Rsa, null, jwkAlgorithm, modulus.Length, () => RSA.Create(parameters));
    }

    /// <summary>Why this key cannot verify <paramref name="algorithm"/>, or null when it can.</summary>
    public string? MismatchWith(JwsAlgorithm algorithm)
    {
        if (algorithm.Family != Family)
        {
            return $"the key is {(Family == KeyFamily.Ec ? "an EC" : "an RSA")} key and cannot verify {algorithm.Name}";
        }

        if (algorithm.Family == KeyFamily.Ec && !string.Equals(algorithm.Curve, Curve, StringComparison.Ordinal))
        {
            return $"{algorithm.Name} requires curve {algorithm.Curve}, the key is on {Curve}";
        }

        if (JwkAlgorithm is not null && !string.Equals(JwkAlgorithm, algorithm.Name, StringComparison.Ordinal))
        {
            return $"the key is published for {JwkAlgorithm} only";
        }

        return null;
    }

    /// <summary>Verifies a JWS signature over <paramref name="signingInput"/>; call only after <see cref="MismatchWith"/> returned null.</summary>
    public bool Verify(JwsAlgorithm algorithm, ReadOnlySpan<byte> signingInput, ReadOnlySpan<byte> signature)
    {
        // Lengths are fixed by the key: anything else is not a signature of it (and never reaches the crypto).
        var expectedLength = Family == KeyFamily.Ec ? 2 * algorithm.CoordinateBytes : RsaModulusBytes;
        if (signature.Length != expectedLength)
        {
            return false;
        }

        #pragma warning disable CA2000 // returned to the pool or disposed in the finally below
        var verifier = _pool.TryTake(out var pooled) ? pooled : _create();
        #pragma warning restore CA2000
        try
        {
            return verifier switch
            {
                // JWS ES* signatures are R || S (IEEE P1363), which is the BCL's default format.
                ECDsa ec => ec.VerifyData(signingInput, signature, algorithm.Hash),
                RSA rsa => rsa.VerifyData(signingInput, signature, algorithm.Hash, algorithm.Padding!),
                _ => false,
            };
        }
        catch (CryptographicException)
        {
            return false;
        }
        finally
        {
            if (_pool.Count < MaxPooled)
            {
                _pool.Add(verifier);
            }
            else
            {
                verifier.Dispose();
            }
        }
    }
}
