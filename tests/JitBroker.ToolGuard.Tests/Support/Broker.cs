using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using JitBroker.Attestation;
using JitBroker.Server;
using JitBroker.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;

namespace JitBroker.ToolGuard.Tests.Support;

/// <summary>
/// A real JitBroker (embedded profile) with its OAuth door on a loopback issuer URL, and helpers for tokens from its
/// token endpoint, revocation by the holder and the tool's own JWT-SVID (configured as a resource server).
/// </summary>
public sealed class Broker : IAsyncDisposable
{
    public const string TrustDomain = "spiffe://dev.jitbroker.local";
    public const string ToolIdentity = TrustDomain + "/tools/tickets";
    public const string OtherAudience = "https://other.internal.example";

    private const string Policy = """
        version: 1
        rules:
          - id: agents-tickets
            effect: allow
            principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/agents/*"] }
            actions: ["tickets.read", "tickets.create"]
            tools: ["zendesk", "crm"]
            resources: ["tickets/*"]
            credential: { kind: jwt, audiences: ["https://tickets.internal.example", "https://other.internal.example"], max_ttl: 10m }
        """;

    private readonly WebApplication _app;
    private readonly string _dataDirectory;
    private readonly HttpClient _http = new();

    private Broker(WebApplication app, string dataDirectory, string issuer)
    {
        _app = app;
        _dataDirectory = dataDirectory;
        Issuer = issuer;
        Dev = DevTrustDomain.LoadOrCreate(Path.Combine(dataDirectory, "dev-trust-domain"), TimeProvider.System);
    }

    public string Issuer { get; }

    public DevTrustDomain Dev { get; }

    /// <summary>The broker's services (tests reach its kill switch and signing key through them).</summary>
    public IServiceProvider Services => _app.Services;

    public static Task<Broker> StartAsync() => LoopbackPorts.StartOnFreePortAsync(port => StartAsync(port, null));

    /// <summary>A broker with extra configuration (e.g. <c>JitBroker:Ssf:*</c>).</summary>
    public static Task<Broker> StartAsync(IReadOnlyDictionary<string, string?> extra) => LoopbackPorts.StartOnFreePortAsync(port => StartAsync(port, extra));

    private static async Task<Broker> StartAsync(int port, IReadOnlyDictionary<string, string?>? extra)
    {
        var dataDirectory = Directory.CreateTempSubdirectory("jitbroker-toolguard-").FullName;
        var policy = Directory.CreateDirectory(Path.Combine(dataDirectory, "policy")).FullName;
        await File.WriteAllTextAsync(Path.Combine(policy, "10-tickets.yaml"), Policy);
        var settings = new Dictionary<string, string?>
        {
            ["JitBroker:Profile"] = "embedded",
            ["JitBroker:DataDirectory"] = dataDirectory,
            ["JitBroker:Listen:Grpc"] = "127.0.0.1:0",
            ["JitBroker:Listen:Http"] = $"127.0.0.1:{port}",
            ["JitBroker:Listen:Admin"] = "127.0.0.1:0",
            ["JitBroker:Introspection:ResourceServers:0"] = TrustDomain + "/tools/*",
            // Use reports (POST /tool-uses) from the tool, for its own audience only.
            ["JitBroker:Tools:ResourceServers:0:Identity"] = ToolIdentity,
            ["JitBroker:Tools:ResourceServers:0:Audiences:0"] = ToolServer.Resource,
            ["JitBroker:Policy:Path"] = policy,
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        var app = BrokerHost.Build([], config => config.AddInMemoryCollection(settings));
        await app.StartAsync();
        return new Broker(app, dataDirectory, $"http://127.0.0.1:{port}");
    }

    public static string Agent(string name) => $"{TrustDomain}/agents/{name}";

    /// <summary>The tool's own workload identity for the broker: a JWT-SVID whose aud is the issuer.</summary>
    public Task<string> ToolSvidAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(Dev.MintSvid(ToolIdentity, Issuer, TimeSpan.FromMinutes(5)));

    /// <summary>A task token for <paramref name="agent"/> (jwt-bearer grant); DPoP-bound when <paramref name="dpopKey"/> is given.</summary>
    public async Task<string> TokenAsync(string agent, string scope = "tickets.read tool:zendesk", string resources = """["tickets/1", "tickets/9", "tickets/42"]""",
        string audience = ToolServer.Resource, ECDsa? dpopKey = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Issuer + "/oauth2/token")
        {
            Content = new FormUrlEncodedContent(
            [
                KeyValuePair.Create("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                KeyValuePair.Create("assertion", Dev.MintSvid(agent, Issuer, TimeSpan.FromMinutes(5))),
                KeyValuePair.Create("resource", audience),
                KeyValuePair.Create("scope", scope),
                KeyValuePair.Create("authorization_details", $$"""[{"type":"jitbroker_task","purpose":"answer a ticket","resources":{{resources}}}]"""),
            ]),
        };
        if (dpopKey is not null)
        {
            request.Headers.Add("DPoP", Dpop.Proof(dpopKey, "POST", Issuer + "/oauth2/token"));
        }

        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"token endpoint: {(int)response.StatusCode} {text}");
        }

        return JsonDocument.Parse(text).RootElement.GetProperty("access_token").GetString()!;
    }

    /// <summary>The holder revokes its token (RFC 7009), which ends the task's lease now, as EndTask does.</summary>
    public async Task RevokeAsync(string holder, string token)
    {
        using var response = await _http.PostAsync(Issuer + "/oauth2/revoke", new FormUrlEncodedContent(
        [
            KeyValuePair.Create("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            KeyValuePair.Create("client_assertion", Dev.MintSvid(holder, Issuer, TimeSpan.FromMinutes(5))),
            KeyValuePair.Create("token", token),
        ]));
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new InvalidOperationException("revoke: " + (int)response.StatusCode);
        }
    }

    /// <summary>The token's payload, decoded (tests read jti and cnf from it).</summary>
    public static JsonElement Claims(string token) =>
        JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(token.Split('.')[1])).RootElement.Clone();

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        Dev.Dispose();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _app.StopAsync(timeout.Token);
        await _app.DisposeAsync();
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp directory left behind is not a test failure.
        }
    }
}

/// <summary>DPoP proofs made with the BCL (RFC 9449 §4.2), including ath for a resource request.</summary>
public static class Dpop
{
    public static string Proof(ECDsa key, string method, string url, string? accessToken = null, string? jti = null, DateTimeOffset? iat = null)
    {
        var p = key.ExportParameters(false);
        var header = JsonSerializer.Serialize(new { typ = "dpop+jwt", alg = "ES256", jwk = new { kty = "EC", crv = "P-256", x = B64(p.Q.X!), y = B64(p.Q.Y!) } });
        var claims = new Dictionary<string, object>
        {
            ["jti"] = jti ?? Guid.NewGuid().ToString("N"),
            ["htm"] = method,
            ["htu"] = url,
            ["iat"] = (iat ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds(),
        };
        if (accessToken is not null)
        {
            claims["ath"] = B64(SHA256.HashData(Encoding.ASCII.GetBytes(accessToken)));
        }

        var input = B64(Encoding.UTF8.GetBytes(header)) + "." + B64(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(claims)));
        return input + "." + B64(key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256));
    }

    public static string Thumbprint(ECDsa key)
    {
        var p = key.ExportParameters(false);
        return B64(SHA256.HashData(Encoding.UTF8.GetBytes($"{{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"{B64(p.Q.X!)}\",\"y\":\"{B64(p.Q.Y!)}\"}}")));
    }

    private static string B64(byte[] bytes) => System.Buffers.Text.Base64Url.EncodeToString(bytes);
}
