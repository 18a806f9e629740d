using JitBroker.Attestation;
using JitBroker.Core;
using JitBroker.Issuance;
using JitBroker.Revocation;

namespace JitBroker.Server;

/// <summary>
/// Everything the host reads from configuration (section "JitBroker"; environment variables
/// <c>JITBROKER__…</c>; command line <c>--JitBroker:…</c>). Validated once at start-up by
/// <see cref="SettingsValidator"/>; the broker refuses to start on any error.
/// </summary>
public sealed class JitBrokerSettings
{
    public const string SectionName = "JitBroker";

    /// <summary><c>embedded</c> (one node, no servers, dev trust domain) or <c>production</c>.</summary>
    public string Profile { get; set; } = Profiles.Embedded;

    /// <summary>Generated keys and the dev trust domain live here (created with mode 0700).</summary>
    public string DataDirectory { get; set; } = ".jitbroker";

    public ListenSettings Listen { get; set; } = new();

    public BrokerOptions Broker { get; set; } = new();

    public JwtIssuerOptions Issuer { get; set; } = new();

    public SigningKeySettings SigningKey { get; set; } = new();

    public AttestationSettings Attestation { get; set; } = new();

    public PolicySettings Policy { get; set; } = new();

    public LeaseStoreSettings Leases { get; set; } = new();

    public RevocationOptions Revocation { get; set; } = new();

    public bool IsEmbedded => string.Equals(Profile, Profiles.Embedded, StringComparison.Ordinal);
}

public static class Profiles
{
    public const string Embedded = "embedded";
    public const string Production = "production";
}

public sealed class ListenSettings
{
    /// <summary>Cleartext HTTP/2 (prior knowledge) endpoint for gRPC, host:port.</summary>
    public string Grpc { get; set; } = "127.0.0.1:50051";

    /// <summary>HTTP/1.1 endpoint for JWKS and health; h2c and HTTP/1.1 cannot share a cleartext port.</summary>
    public string Http { get; set; } = "127.0.0.1:8080";

    /// <summary>Largest gRPC message accepted, in bytes.</summary>
    public int MaxReceiveMessageSize { get; set; } = 4 * 1024 * 1024;
}

public sealed class SigningKeySettings
{
    public string? PrivateKeyPemPath { get; set; }

    public List<string> PreviousPublicKeyPemPaths { get; set; } = [];
}

public sealed class AttestationSettings
{
    public JwtSvidOptions JwtSvid { get; set; } = new() { Audience = "jitbroker" };
}

public sealed class PolicySettings
{
    /// <summary>Policy file; relative paths resolve against the application directory.</summary>
    public string Path { get; set; } = "policies/sample.yaml";
}

public sealed class LeaseStoreSettings
{
    /// <summary>Only <c>memory</c> exists today; Redis is the production store once it lands.</summary>
    public string Store { get; set; } = "memory";
}
