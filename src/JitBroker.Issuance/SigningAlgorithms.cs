namespace JitBroker.Issuance;

/// <summary>
/// The JWS algorithms (RFC 7518 §3.1) a task-JWT key may use, chosen by <c>JitBroker:SigningKey:Algorithm</c>. One key
/// has exactly one algorithm: a token is verified with its key's algorithm and no other, whatever its header says.
/// </summary>
public static class SigningAlgorithms
{
    /// <summary>ECDSA P-256 with SHA-256 (RFC 7518 §3.4): the default, small and fast.</summary>
    public const string Es256 = "ES256";

    /// <summary>RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3): what RFC 9068 §2.1 expects every resource server to support.</summary>
    public const string Rs256 = "RS256";

    /// <summary>RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt (RFC 7518 §3.5).</summary>
    public const string Ps256 = "PS256";

    /// <summary>RFC 7518 §3.3 and §3.5: RSA keys of 2048 bits or larger MUST be used.</summary>
    public const int MinRsaKeyBits = 2048;

    /// <summary>
    /// Larger RSA keys are refused: they add nothing a relying party needs and make every verification (and every
    /// signature buffer) bigger. 8192 bits covers every key size in practical use.
    /// </summary>
    public const int MaxRsaKeyBits = 8192;

    /// <summary>The size of an RSA key the broker generates: 128-bit security (NIST SP 800-57 Part 1, table 2).</summary>
    public const int GeneratedRsaKeyBits = 3072;

    /// <summary>Every algorithm accepted, in the order error messages list them.</summary>
    public static IReadOnlyList<string> All { get; } = [Es256, Rs256, Ps256];

    /// <summary>True for exactly <c>ES256</c>, <c>RS256</c> and <c>PS256</c>: JOSE algorithm names are case-sensitive (RFC 7515 §4.1.1).</summary>
    public static bool IsSupported(string? algorithm) => algorithm is Es256 or Rs256 or Ps256;

    /// <summary>True for the algorithms that take an RSA key.</summary>
    public static bool IsRsa(string? algorithm) => algorithm is Rs256 or Ps256;
}
