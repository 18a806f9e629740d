namespace JitBroker.Policy.Model;

/// <summary>
/// What an allow rule may mint: the issuer kind, the exact targets it mints for (JWT audiences, or the target
/// names a Vault template answers to), the issuer parameters the template fixes, and an optional TTL ceiling.
/// </summary>
internal sealed record CredentialTemplate(
    string Kind,
    IReadOnlyList<string> Targets,
    IReadOnlyDictionary<string, string> IssuerParameters,
    TimeSpan? MaxTtl)
{
    public const string DefaultKind = CredentialKinds.Jwt;
}

/// <summary>Issuer kinds a policy may name. Anything else is a typo and fails the load.</summary>
internal static class CredentialKinds
{
    public const string Jwt = "jwt";
    public const string VaultToken = "vault-token";
    public const string VaultSecret = "vault-secret";

    public static readonly string[] All = [Jwt, VaultToken, VaultSecret];
}
