using System.Text.Json;
using System.Text.Json.Serialization;

namespace JitBroker.Vault;

// Wire shapes of the Vault HTTP API (api-docs/index.mdx and the per-endpoint pages). Classes, not records: a
// record's generated ToString would print client_token, secret_id or jwt into any log that formats the object.

/// <summary>
/// The common response envelope (api-docs/auth/token.mdx "Sample Response", api-docs/system/leases.mdx).
/// <see cref="Data"/> may hold secret values and <see cref="Auth"/> a token: never log this object.
/// </summary>
public sealed class VaultResponse
{
    [JsonPropertyName("request_id")]
    public string? RequestId { get; set; }

    [JsonPropertyName("lease_id")]
    public string? LeaseId { get; set; }

    /// <summary>Seconds.</summary>
    [JsonPropertyName("lease_duration")]
    public long LeaseDuration { get; set; }

    [JsonPropertyName("renewable")]
    public bool Renewable { get; set; }

    [JsonPropertyName("data")]
    public JsonElement? Data { get; set; }

    [JsonPropertyName("auth")]
    public VaultAuthInfo? Auth { get; set; }

    [JsonPropertyName("warnings")]
    public List<string>? Warnings { get; set; }
}

/// <summary>The <c>auth</c> block of login, token-create and renew responses. Holds a token: never log it.</summary>
public sealed class VaultAuthInfo
{
    [JsonPropertyName("client_token")]
    public string? ClientToken { get; set; }

    [JsonPropertyName("accessor")]
    public string? Accessor { get; set; }

    [JsonPropertyName("policies")]
    public List<string>? Policies { get; set; }

    [JsonPropertyName("token_policies")]
    public List<string>? TokenPolicies { get; set; }

    /// <summary>Seconds; 0 means the token does not expire.</summary>
    [JsonPropertyName("lease_duration")]
    public long LeaseDuration { get; set; }

    [JsonPropertyName("renewable")]
    public bool Renewable { get; set; }

    [JsonPropertyName("token_type")]
    public string? TokenType { get; set; }

    [JsonPropertyName("orphan")]
    public bool Orphan { get; set; }
}

/// <summary><c>{"errors":[...]}</c>, returned for every status ≥ 400 (api-docs/index.mdx "Error response").</summary>
internal sealed class VaultErrorBody
{
    [JsonPropertyName("errors")]
    public List<string>? Errors { get; set; }
}

/// <summary>Body of <c>POST auth/token/create[/:role_name]</c> (api-docs/auth/token.mdx "Create Token").</summary>
internal sealed class TokenCreateRequest
{
    [JsonPropertyName("policies")]
    public List<string>? Policies { get; set; }

    [JsonPropertyName("meta")]
    public Dictionary<string, string>? Meta { get; set; }

    [JsonPropertyName("ttl")]
    public string? Ttl { get; set; }

    [JsonPropertyName("explicit_max_ttl")]
    public string? ExplicitMaxTtl { get; set; }

    // Sent always: Vault's default is true, and the broker's default is false.
    [JsonPropertyName("renewable")]
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public bool Renewable { get; set; }

    [JsonPropertyName("num_uses")]
    public int? NumUses { get; set; }

    [JsonPropertyName("display_name")]
    public string? DisplayName { get; set; }

    /// <summary>"service": batch tokens have no accessor and cannot be revoked.</summary>
    [JsonPropertyName("type")]
    public string? Type { get; set; }

    /// <summary>Sent true: the token gets only the policies asked for (or the role's), not Vault's <c>default</c>.</summary>
    [JsonPropertyName("no_default_policy")]
    public bool NoDefaultPolicy { get; set; }
}

/// <summary>Body of <c>auth/token/revoke-accessor</c> and <c>auth/token/renew-accessor</c>.</summary>
internal sealed class AccessorRequest
{
    [JsonPropertyName("accessor")]
    public string? Accessor { get; set; }

    /// <summary>renew-accessor only, for example "300s".</summary>
    [JsonPropertyName("increment")]
    public string? Increment { get; set; }
}

/// <summary>Body of <c>auth/token/revoke</c> (used only to undo a token created without an accessor). Holds a token.</summary>
internal sealed class TokenRequest
{
    [JsonPropertyName("token")]
    public string? Token { get; set; }
}

/// <summary>Body of <c>auth/token/renew-self</c>.</summary>
internal sealed class RenewSelfRequest
{
    [JsonPropertyName("increment")]
    public string? Increment { get; set; }
}

/// <summary>Body of <c>sys/leases/revoke</c> (api-docs/system/leases.mdx "Revoke lease").</summary>
internal sealed class LeaseRevokeRequest
{
    [JsonPropertyName("lease_id")]
    public string? LeaseId { get; set; }

    /// <summary>Always sent (true): Vault's default false queues the revocation and answers 202 before it happened.</summary>
    [JsonPropertyName("sync")]
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public bool Sync { get; set; }
}

/// <summary>Body of <c>sys/leases/renew</c>; <see cref="Increment"/> is in seconds (an int, unlike the token endpoints).</summary>
internal sealed class LeaseRenewRequest
{
    [JsonPropertyName("lease_id")]
    public string? LeaseId { get; set; }

    [JsonPropertyName("increment")]
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public long Increment { get; set; }
}

/// <summary>Body of <c>auth/approle/login</c>. Holds a secret.</summary>
internal sealed class AppRoleLoginRequest
{
    [JsonPropertyName("role_id")]
    public string? RoleId { get; set; }

    [JsonPropertyName("secret_id")]
    public string? SecretId { get; set; }
}

/// <summary>Body of <c>auth/kubernetes/login</c> and <c>auth/jwt/login</c>. Holds a JWT.</summary>
internal sealed class JwtLoginRequest
{
    [JsonPropertyName("role")]
    public string? Role { get; set; }

    [JsonPropertyName("jwt")]
    public string? Jwt { get; set; }
}

/// <summary>Body of a request that has none (lookup-self, reads).</summary>
internal sealed class EmptyRequest;

/// <summary><c>GET sys/health</c> (api-docs/system/health.mdx).</summary>
internal sealed class HealthResponse
{
    [JsonPropertyName("initialized")]
    public bool Initialized { get; set; }

    [JsonPropertyName("sealed")]
    public bool Sealed { get; set; }

    [JsonPropertyName("standby")]
    public bool Standby { get; set; }

    [JsonPropertyName("version")]
    public string? Version { get; set; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(VaultResponse))]
[JsonSerializable(typeof(VaultErrorBody))]
[JsonSerializable(typeof(TokenCreateRequest))]
[JsonSerializable(typeof(AccessorRequest))]
[JsonSerializable(typeof(TokenRequest))]
[JsonSerializable(typeof(RenewSelfRequest))]
[JsonSerializable(typeof(LeaseRevokeRequest))]
[JsonSerializable(typeof(LeaseRenewRequest))]
[JsonSerializable(typeof(AppRoleLoginRequest))]
[JsonSerializable(typeof(JwtLoginRequest))]
[JsonSerializable(typeof(EmptyRequest))]
[JsonSerializable(typeof(HealthResponse))]
internal sealed partial class VaultJsonContext : JsonSerializerContext;
