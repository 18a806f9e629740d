namespace JitBroker.Leases;

/// <summary>
/// Where the state integrity key (<see cref="Core.StateMac"/>) comes from: the key that authenticates approvals, the
/// kill-switch list and lease handles in Redis. It must never be stored in Redis; every replica needs the same key.
/// </summary>
public sealed class StateIntegrityOptions
{
    public const string SectionPath = "JitBroker:StateIntegrity";

    /// <summary>The file name of a generated key inside the data directory (embedded profile only).</summary>
    public const string GeneratedKeyFileName = "state-integrity.key";

    /// <summary>
    /// File holding the key: at least 32 random bytes, base64 (for example <c>openssl rand -base64 32</c>), mode 0600 or
    /// stricter. Required in the production profile; in the embedded profile a key is generated into the data directory.
    /// </summary>
    public string? KeyPath { get; set; }

    /// <summary>Files of earlier keys that still verify (rotation): records they sealed stay trusted; new ones use <see cref="KeyPath"/>.</summary>
    public List<string> PreviousKeyPaths { get; set; } = [];

    /// <param name="production">True for the production profile, where the key must be configured.</param>
    public IEnumerable<string> Validate(bool production)
    {
        if (production && string.IsNullOrWhiteSpace(KeyPath))
        {
            yield return $"{SectionPath}:KeyPath is required in the production profile: every replica must share the key that authenticates approvals, blocks and lease handles in Redis (never stored in Redis).";
        }

        if (KeyPath is { Length: > 0 } path && string.IsNullOrWhiteSpace(path))
        {
            yield return $"{SectionPath}:KeyPath must not be blank when set.";
        }

        if (PreviousKeyPaths.Any(string.IsNullOrWhiteSpace))
        {
            yield return $"{SectionPath}:PreviousKeyPaths must not contain blank entries.";
        }
    }
}
