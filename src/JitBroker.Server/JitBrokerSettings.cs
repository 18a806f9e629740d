using JitBroker.Attestation;
using JitBroker.Audit;
using JitBroker.Core;
using JitBroker.Issuance;
using JitBroker.Policy;
using JitBroker.Redis;
using JitBroker.Revocation;
using JitBroker.Vault;

namespace JitBroker.Server;

/// <summary>
/// Everything the host reads from configuration (section "JitBroker"; environment variables
/// <c>JITBROKER__…</c>; command line <c>--JitBroker:…</c>). Each component owns its options class and its
/// validation; <see cref="SettingsValidator"/> runs them all once at start-up and the broker refuses to start
/// on any error.
/// </summary>
public sealed class JitBrokerSettings
{
    public const string SectionName = "JitBroker";

    /// <summary><c>embedded</c> (one node, no servers, dev trust domain) or <c>production</c>.</summary>
    public string Profile { get; set; } = Profiles.Embedded;

    /// <summary>Generated keys, the dev trust domain and (embedded) the audit log live here (created mode 0700).</summary>
    public string DataDirectory { get; set; } = ".jitbroker";

    public ListenSettings Listen { get; set; } = new();

    public BrokerOptions Broker { get; set; } = new();

    public JwtIssuerOptions Issuer { get; set; } = new();

    public SigningKeySettings SigningKey { get; set; } = new();

    public AttestationOptions Attestation { get; set; } = new() { JwtSvid = new JwtSvidOptions { Audience = "jitbroker" } };

    public PolicyOptions Policy { get; set; } = new() { Path = "policies/sample.yaml" };

    public LeaseStoreSettings Leases { get; set; } = new();

    public RedisOptions Redis { get; set; } = new();

    /// <summary>Vault issuers are registered only when <see cref="VaultOptions.Address"/> is set.</summary>
    public VaultOptions Vault { get; set; } = new();

    public RevocationOptions Revocation { get; set; } = new();

    public AuditOptions Audit { get; set; } = new();

    public AdminOptions Admin { get; set; } = new();

    public TelemetrySettings Telemetry { get; set; } = new();

    public bool IsEmbedded => string.Equals(Profile, Profiles.Embedded, StringComparison.Ordinal);

    public bool UsesRedis => string.Equals(Leases.Store, LeaseStoreSettings.Redis, StringComparison.Ordinal);
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

    /// <summary>HTTP/1.1 endpoint for JWKS, health and metrics; h2c and HTTP/1.1 cannot share a cleartext port.</summary>
    public string Http { get; set; } = "127.0.0.1:8080";

    /// <summary>Optional TLS endpoint for gRPC that requires a client certificate (X.509-SVID agents).</summary>
    public string? Mtls { get; set; }

    /// <summary>The mTLS listener's own certificate and key (PEM).</summary>
    public string? MtlsCertificatePath { get; set; }

    public string? MtlsKeyPath { get; set; }

    /// <summary>Largest gRPC message accepted, in bytes.</summary>
    public int MaxReceiveMessageSize { get; set; } = 4 * 1024 * 1024;
}

public sealed class SigningKeySettings
{
    public string? PrivateKeyPemPath { get; set; }

    public List<string> PreviousPublicKeyPemPaths { get; set; } = [];
}

public sealed class LeaseStoreSettings
{
    public const string Memory = "memory";
    public const string Redis = "redis";

    /// <summary><c>memory</c> (embedded, one node, lost on restart) or <c>redis</c> (production, many replicas).</summary>
    public string Store { get; set; } = Memory;
}

/// <summary>Metrics export besides <c>/metrics</c>: OTLP push when an endpoint is configured.</summary>
public sealed class TelemetrySettings
{
    /// <summary>
    /// OTLP endpoint. For <c>HttpProtobuf</c> the full URL including the path (for example
    /// <c>http://otel-collector:4318/v1/metrics</c>); for <c>Grpc</c> the collector's base address (port 4317).
    /// </summary>
    public Uri? OtlpEndpoint { get; set; }

    /// <summary><c>HttpProtobuf</c> (default) or <c>Grpc</c>.</summary>
    public string OtlpProtocol { get; set; } = "HttpProtobuf";

    public TimeSpan OtlpExportInterval { get; set; } = TimeSpan.FromSeconds(30);

    public IEnumerable<string> Validate()
    {
        if (OtlpEndpoint is { } endpoint && (!endpoint.IsAbsoluteUri || endpoint.Scheme is not ("http" or "https")))
        {
            yield return "JitBroker:Telemetry:OtlpEndpoint must be an absolute http(s) URL.";
        }

        if (OtlpProtocol is not ("HttpProtobuf" or "Grpc"))
        {
            yield return "JitBroker:Telemetry:OtlpProtocol must be HttpProtobuf or Grpc.";
        }

        if (OtlpExportInterval < TimeSpan.FromMilliseconds(100) || OtlpExportInterval > TimeSpan.FromMinutes(10))
        {
            yield return "JitBroker:Telemetry:OtlpExportInterval must be between 100 ms and 10 minutes.";
        }
    }
}
