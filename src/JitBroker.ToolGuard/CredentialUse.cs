using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Serialization;

namespace JitBroker.ToolGuard;

/// <summary>
/// One call at this tool with a JitBroker credential, allowed or refused, as reported to the broker
/// (<c>POST {issuer}/tool-uses</c>, JSON, snake_case). The token itself never leaves: only its fingerprint.
/// </summary>
public sealed record CredentialUse
{
    public const string AllowedOutcome = "allowed";
    public const string RefusedOutcome = "refused";

    /// <summary>"sha256:" + lowercase hex SHA-256 of the token's UTF-8 bytes — JitBroker.Core's Fingerprints.Of.</summary>
    [JsonPropertyName("credential_fingerprint")]
    public required string CredentialFingerprint { get; init; }

    /// <summary>The token's jti, which is its lease id; null when the token did not validate.</summary>
    [JsonPropertyName("lease_id")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? LeaseId { get; init; }

    [JsonPropertyName("tool")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Tool { get; init; }

    [JsonPropertyName("action")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Action { get; init; }

    [JsonPropertyName("resource")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Resource { get; init; }

    /// <summary><see cref="AllowedOutcome"/> or <see cref="RefusedOutcome"/>.</summary>
    [JsonPropertyName("outcome")]
    public required string Outcome { get; init; }

    /// <summary>A <see cref="ToolGuardReasons"/> or DPoP reason code.</summary>
    [JsonPropertyName("reason")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Reason { get; init; }

    /// <summary>RFC 3339, UTC, milliseconds.</summary>
    [JsonPropertyName("at")]
    public required string At { get; init; }

    /// <summary>This resource server (the audience the token had to carry).</summary>
    [JsonPropertyName("audience")]
    public required string Audience { get; init; }

    public static string Fingerprint(string token)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(token), hash);
        return "sha256:" + Convert.ToHexStringLower(hash);
    }

    public static string Rfc3339(DateTimeOffset at) =>
        at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
