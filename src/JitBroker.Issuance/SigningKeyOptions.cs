namespace JitBroker.Issuance;

/// <summary>Where the task-JWT signing key comes from (configuration section <c>SigningKey</c>).</summary>
public sealed class SigningKeyOptions
{
    /// <summary>The file name of a generated key inside <see cref="DataDirectory"/>.</summary>
    public const string GeneratedKeyFileName = "signing-key.pem";

    /// <summary>
    /// Where a generated key lives (<c>&lt;dir&gt;/signing-key.pem</c>, mode 0600). Used only when
    /// <see cref="PrivateKeyPemPath"/> is not set.
    /// </summary>
    public string DataDirectory { get; set; } = "";

    /// <summary>
    /// A configured private key (PKCS#8 <c>PRIVATE KEY</c> or SEC1 <c>EC PRIVATE KEY</c>, P-256). When set,
    /// nothing is generated. On Unix the file must not be accessible to group or other.
    /// </summary>
    public string? PrivateKeyPemPath { get; set; }

    /// <summary>Public keys (<c>PUBLIC KEY</c> PEM) of earlier signing keys, still published in the JWKS and accepted during rotation.</summary>
    public List<string> PreviousPublicKeyPemPaths { get; set; } = [];

    /// <summary>Problems with these options, one sentence each; empty when they are usable.</summary>
    public IEnumerable<string> Validate()
    {
        if (string.IsNullOrWhiteSpace(PrivateKeyPemPath) && string.IsNullOrWhiteSpace(DataDirectory))
        {
            yield return "SigningKey:PrivateKeyPemPath or SigningKey:DataDirectory must be set.";
        }

        if (PrivateKeyPemPath is { } path && path.Length > 0 && string.IsNullOrWhiteSpace(path))
        {
            yield return "SigningKey:PrivateKeyPemPath must not be blank when set.";
        }

        if (PreviousPublicKeyPemPaths.Any(string.IsNullOrWhiteSpace))
        {
            yield return "SigningKey:PreviousPublicKeyPemPaths must not contain blank entries.";
        }
    }
}
