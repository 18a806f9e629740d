namespace JitBroker.Issuance;

/// <summary>
/// Where the task-JWT signing key comes from: the host builds it from <c>JitBroker:SigningKey</c> and
/// <c>JitBroker:DataDirectory</c>, and validation messages name those keys.
/// </summary>
public sealed class SigningKeyOptions
{
    /// <summary>Where the host binds the key paths from.</summary>
    public const string SectionPath = "JitBroker:SigningKey";

    /// <summary>The file name of a generated key inside <see cref="DataDirectory"/>.</summary>
    public const string GeneratedKeyFileName = "signing-key.pem";

    /// <summary>
    /// Where a generated key lives (<c>&lt;dir&gt;/signing-key.pem</c>, mode 0600). Used only when
    /// <see cref="PrivateKeyPemPath"/> is not set.
    /// </summary>
    public string DataDirectory { get; set; } = "";

    /// <summary>
    /// The JWS algorithm of task JWTs (and delegation offers): <c>ES256</c> (default), <c>RS256</c> or <c>PS256</c>
    /// (<see cref="SigningAlgorithms"/>). The key must be of the matching type; a generated key is made for it.
    /// </summary>
    public string Algorithm { get; set; } = SigningAlgorithms.Es256;

    /// <summary>
    /// A configured private key: for ES256 PKCS#8 <c>PRIVATE KEY</c> or SEC1 <c>EC PRIVATE KEY</c> (P-256); for RS256/PS256
    /// PKCS#8 or PKCS#1 <c>RSA PRIVATE KEY</c> (2048–8192 bits). When set, nothing is generated. On Unix the file must not
    /// be accessible to group or other.
    /// </summary>
    public string? PrivateKeyPemPath { get; set; }

    /// <summary>Public keys (<c>PUBLIC KEY</c> PEM) of earlier signing keys, still published in the JWKS and accepted during rotation.</summary>
    public List<string> PreviousPublicKeyPemPaths { get; set; } = [];

    /// <summary>Problems with these options, one sentence each; empty when they are usable.</summary>
    public IEnumerable<string> Validate()
    {
        if (!SigningAlgorithms.IsSupported(Algorithm))
        {
            yield return $"{SectionPath}:Algorithm '{Algorithm}' is not supported; use one of {string.Join(", ", SigningAlgorithms.All)} (case-sensitive).";
        }

        if (string.IsNullOrWhiteSpace(PrivateKeyPemPath) && string.IsNullOrWhiteSpace(DataDirectory))
        {
            yield return $"{SectionPath}:PrivateKeyPemPath or JitBroker:DataDirectory must be set.";
        }

        if (PrivateKeyPemPath is { } path && path.Length > 0 && string.IsNullOrWhiteSpace(path))
        {
            yield return $"{SectionPath}:PrivateKeyPemPath must not be blank when set.";
        }

        if (PreviousPublicKeyPemPaths.Any(string.IsNullOrWhiteSpace))
        {
            yield return $"{SectionPath}:PreviousPublicKeyPemPaths must not contain blank entries.";
        }
    }
}
