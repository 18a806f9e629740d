using JitBroker.Attestation;
using JitBroker.Audit;
using JitBroker.Core;
using JitBroker.Issuance;
using JitBroker.Leases;
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

    /// <summary>
    /// The audit checkpoint key, never the token key: a PEM file (production: its own Secret) or, when unset, one
    /// generated into <c>&lt;DataDirectory&gt;/audit-signing-key/</c>. Verifiers need only its public half (docs/audit.md).
    /// </summary>
    public SigningKeySettings AuditSigningKey { get; set; } = new();

    public AttestationOptions Attestation { get; set; } = new() { JwtSvid = new JwtSvidOptions { Audience = "jitbroker" } };

    public PolicyOptions Policy { get; set; } = new() { Path = "policies/sample.yaml" };

    public LeaseStoreSettings Leases { get; set; } = new();

    public RedisOptions Redis { get; set; } = new();

    /// <summary>The key that authenticates security state kept in Redis (approvals, blocks, lease handles).</summary>
    public StateIntegrityOptions StateIntegrity { get; set; } = new();

    /// <summary>Vault issuers are registered only when <see cref="VaultOptions.Address"/> is set.</summary>
    public VaultOptions Vault { get; set; } = new();

    public RevocationOptions Revocation { get; set; } = new();

    public AuditOptions Audit { get; set; } = new();

    public JitBroker.Core.Admission.AdmissionOptions Admission { get; set; } = new();

    public AdminOptions Admin { get; set; } = new();

    /// <summary>Who may introspect any task credential; everyone else only their own (issue 17).</summary>
    public IntrospectionOptions Introspection { get; set; } = new();

    /// <summary>Which tools may report credential uses, for which audiences (issue 19; docs/audit.md "Tool uses").</summary>
    public ToolUseOptions Tools { get; set; } = new();

    public TelemetrySettings Telemetry { get; set; } = new();

    /// <summary>The OAuth 2 front door (docs/oauth.md).</summary>
    public OAuth.OAuthSettings OAuth { get; set; } = new();

    /// <summary>The OpenID Shared Signals transmitter (docs/ssf.md).</summary>
    public Ssf.SsfSettings Ssf { get; set; } = new();

    /// <summary>Webhooks told when an approval opens (docs/notifications.md).</summary>
    public Notifications.NotificationSettings Notifications { get; set; } = new();
    /// <summary>The approver's and operator's web console (docs/console.md); off unless configured.</summary>
    public JitBroker.WebConsole.ConsoleSettings Console { get; set; } = new();

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
    /// <summary>Cleartext HTTP/2 (prior knowledge) agent endpoint for gRPC, host:port; empty turns it off.</summary>
    public string Grpc { get; set; } = "127.0.0.1:50051";

    /// <summary>HTTP/1.1 endpoint for JWKS, health and metrics; h2c and HTTP/1.1 cannot share a cleartext port.</summary>
    public string Http { get; set; } = "127.0.0.1:8080";

    /// <summary>Optional TLS agent endpoint for gRPC with server authentication only (bearer JWT-SVID / OIDC agents).</summary>
    public string? Tls { get; set; }

    /// <summary>The TLS listener's certificate and key (PEM), re-read when the files change.</summary>
    public string? TlsCertificatePath { get; set; }

    public string? TlsKeyPath { get; set; }

    /// <summary>Optional TLS endpoint for gRPC that requires a client certificate (X.509-SVID agents).</summary>
    public string? Mtls { get; set; }

    /// <summary>The mTLS listener's own certificate and key (PEM).</summary>
    public string? MtlsCertificatePath { get; set; }

    public string? MtlsKeyPath { get; set; }

    /// <summary>The admin API's own listener (BrokerAdmin only; never served on agent listeners).</summary>
    public string Admin { get; set; } = "127.0.0.1:50052";

    /// <summary>When set (with <see cref="AdminKeyPath"/>), the admin listener speaks TLS with this certificate.</summary>
    public string? AdminCertificatePath { get; set; }

    public string? AdminKeyPath { get; set; }

    /// <summary>When set, the (TLS) admin listener requires a client certificate issued by one of these CA certificates (PEM).</summary>
    public string? AdminClientCaPath { get; set; }

    /// <summary>
    /// Embedded profile only: a loopback HTTP/1.1 listener for the web console when the admin listener is cleartext
    /// (cleartext h2c gRPC and browsers cannot share a port). With an admin certificate the console is served there instead.
    /// </summary>
    public string? Console { get; set; }

    /// <summary>
    /// Production only: cleartext listeners on non-loopback addresses are allowed because a mesh sidecar
    /// terminates TLS in front of the broker. Without it, the production profile refuses to start with one.
    /// </summary>
    public bool TlsTerminatedBySidecar { get; set; }

    /// <summary>gRPC server reflection; unset means on in the embedded profile and off in production.</summary>
    public bool? Reflection { get; set; }

    /// <summary>Largest gRPC message accepted, in bytes.</summary>
    public int MaxReceiveMessageSize { get; set; } = 4 * 1024 * 1024;

    /// <summary>Largest gRPC message sent, in bytes.</summary>
    public int MaxSendMessageSize { get; set; } = 4 * 1024 * 1024;

    /// <summary>Kestrel: all request headers together, in bytes (HTTP/1.1 and HTTP/2).</summary>
    public int MaxRequestHeadersTotalSize { get; set; } = 32 * 1024;

    /// <summary>Kestrel: one HTTP/2 header field (name + value, HPACK-decoded), in bytes.</summary>
    public int MaxRequestHeaderFieldSize { get; set; } = 16 * 1024;

    /// <summary>Kestrel: most request headers per request.</summary>
    public int MaxRequestHeaderCount { get; set; } = 100;

    /// <summary>Kestrel: time a client gets to send all request headers.</summary>
    public TimeSpan RequestHeadersTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Kestrel: concurrent HTTP/2 streams (calls) per connection.</summary>
    public int MaxStreamsPerConnection { get; set; } = 100;

    /// <summary>Kestrel: open connections across all listeners.</summary>
    public long MaxConcurrentConnections { get; set; } = 10_000;

    public bool ReflectionEnabled(bool embedded) => Reflection ?? embedded;

    public IEnumerable<string> ValidateLimits()
    {
        if (MaxReceiveMessageSize is < 1024 or > 64 * 1024 * 1024)
        {
            yield return "JitBroker:Listen:MaxReceiveMessageSize must be between 1 KiB and 64 MiB.";
        }

        if (MaxSendMessageSize is < 1024 or > 64 * 1024 * 1024)
        {
            yield return "JitBroker:Listen:MaxSendMessageSize must be between 1 KiB and 64 MiB.";
        }

        if (MaxRequestHeadersTotalSize is < 4096 or > 1024 * 1024)
        {
            yield return "JitBroker:Listen:MaxRequestHeadersTotalSize must be between 4 KiB and 1 MiB.";
        }

        if (MaxRequestHeaderFieldSize is < 4096 or > 1024 * 1024 || MaxRequestHeaderFieldSize > MaxRequestHeadersTotalSize)
        {
            yield return "JitBroker:Listen:MaxRequestHeaderFieldSize must be between 4 KiB and 1 MiB and not above MaxRequestHeadersTotalSize.";
        }

        if (MaxRequestHeaderCount is < 16 or > 1000)
        {
            yield return "JitBroker:Listen:MaxRequestHeaderCount must be between 16 and 1000.";
        }

        if (RequestHeadersTimeout < TimeSpan.FromMilliseconds(100) || RequestHeadersTimeout > TimeSpan.FromMinutes(5))
        {
            yield return "JitBroker:Listen:RequestHeadersTimeout must be between 100 ms and 5 minutes.";
        }

        if (MaxStreamsPerConnection is < 1 or > 10_000)
        {
            yield return "JitBroker:Listen:MaxStreamsPerConnection must be between 1 and 10000.";
        }

        if (MaxConcurrentConnections is < 1 or > 1_000_000)
        {
            yield return "JitBroker:Listen:MaxConcurrentConnections must be between 1 and 1000000.";
        }
    }
}

public sealed class SigningKeySettings
{
    /// <summary>
    /// The JWS algorithm of task JWTs: <c>ES256</c> (default), <c>RS256</c> or <c>PS256</c> (RSA 2048+ bits; a generated key
    /// is 3072). The key must be of the matching type. Scheduled rotation (<see cref="RotationInterval"/>) is ES256 only; the
    /// audit checkpoint key (<c>JitBroker:AuditSigningKey</c>) is always ES256.
    /// </summary>
    public string Algorithm { get; set; } = SigningAlgorithms.Es256;

    public string? PrivateKeyPemPath { get; set; }

    public List<string> PreviousPublicKeyPemPaths { get; set; } = [];

    /// <summary>
    /// Scheduled rotation of derived token keys: a new key every this long (epochs counted from the Unix epoch), derived
    /// from <see cref="RotationRootSecretPath"/>. Null: no scheduled rotation (file keys rotate by Secret and
    /// <see cref="PreviousPublicKeyPemPaths"/>).
    /// </summary>
    public TimeSpan? RotationInterval { get; set; }

    /// <summary>
    /// The root secret rotated keys are derived from (base64 of 32+ random bytes, owner-only file). Required with
    /// <see cref="RotationInterval"/> in production; embedded generates one into the data directory when unset.
    /// </summary>
    public string? RotationRootSecretPath { get; set; }

    /// <summary>How long before it signs a new key is in the JWKS: at least the JWKS cache lifetime (5 minutes).</summary>
    public TimeSpan RotationPublishAhead { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How long a retired key stays in the JWKS after its last signature: at least Broker:MaxTtl plus 1 minute of skew.</summary>
    public TimeSpan RotationRetainAfterRetirement { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>The rotation schedule, or null when rotation is off.</summary>
    public KeyRotationSchedule? RotationSchedule =>
        RotationInterval is { } interval ? new KeyRotationSchedule(interval, RotationPublishAhead, RotationRetainAfterRetirement) : null;

    /// <summary>The key provider's options: this key, or one generated into <paramref name="dataDirectory"/>.</summary>
    public SigningKeyOptions ToOptions(string dataDirectory) => new()
    {
        Algorithm = Algorithm,
        DataDirectory = dataDirectory,
        PrivateKeyPemPath = PrivateKeyPemPath,
        PreviousPublicKeyPemPaths = PreviousPublicKeyPemPaths,
    };
}

public sealed class LeaseStoreSettings
{
    public const string Memory = "memory";
    public const string Redis = "redis";

    /// <summary><c>memory</c> (embedded, one node, lost on restart) or <c>redis</c> (production, many replicas).</summary>
    public string Store { get; set; } = Memory;
}

/// <summary>Telemetry export besides <c>/metrics</c>: OTLP push of metrics and traces when an endpoint is configured.</summary>
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

    /// <summary>
    /// OTLP endpoint for traces. Unset: derived from <see cref="OtlpEndpoint"/> (<c>…/v1/metrics</c> becomes
    /// <c>…/v1/traces</c> for HttpProtobuf; the same collector address for Grpc). No OTLP endpoint at all: no traces leave.
    /// </summary>
    public Uri? OtlpTracesEndpoint { get; set; }

    public Uri? TracesEndpoint()
    {
        if (OtlpTracesEndpoint is not null || OtlpEndpoint is null)
        {
            return OtlpTracesEndpoint;
        }

        if (OtlpProtocol == "Grpc")
        {
            return OtlpEndpoint;
        }

        var text = OtlpEndpoint.AbsoluteUri;
        return text.EndsWith("/v1/metrics", StringComparison.Ordinal) ? new Uri(text[..^"/v1/metrics".Length] + "/v1/traces") : null;
    }

    public IEnumerable<string> Validate()
    {
        if (OtlpEndpoint is { } endpoint && (!endpoint.IsAbsoluteUri || endpoint.Scheme is not ("http" or "https")))
        {
            yield return "JitBroker:Telemetry:OtlpEndpoint must be an absolute http(s) URL.";
        }

        if (OtlpTracesEndpoint is { } traces && (!traces.IsAbsoluteUri || traces.Scheme is not ("http" or "https")))
        {
            yield return "JitBroker:Telemetry:OtlpTracesEndpoint must be an absolute http(s) URL.";
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
