using System.Security.Cryptography;
using System.Text.Json;
using JitBroker.Testing;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace JitBroker.Attestation.Tests;

/// <summary>
/// A Kubernetes-like OIDC issuer served by a real Kestrel on 127.0.0.1 (discovery document and JWKS), its
/// RSA signing key, a fake clock and a builder for projected service account tokens. A second issuer
/// ("liar") serves a discovery document naming another issuer.
/// </summary>
public sealed class OidcFixture : IAsyncDisposable
{
    public const string Audience = "jitbroker";
    public const string Namespace = "agents";
    public const string ServiceAccount = "planner";
    public const string Subject = "system:serviceaccount:agents:planner";
    public const string DiscoveryPath = "/.well-known/openid-configuration";
    public const string JwksPath = "/openid/v1/jwks";

    private readonly List<OidcAttestor> _attestors = [];

    private OidcFixture(KeyServer server) => Server = server;

    public static TestKey ClusterKey { get; } = TestKey.Rsa("k8s-2026-11");
    public static TestKey ClusterEcKey { get; } = TestKey.Ec("k8s-ec", ECCurve.NamedCurves.nistP256);
    public static TestKey RotatedKey { get; } = TestKey.Rsa("k8s-2026-12");

    public KeyServer Server { get; }

    public FakeTimeProvider Time { get; } = TestClock.Create();

    public long NowSeconds => Time.GetUtcNow().ToUnixTimeSeconds();

    /// <summary>The issuer URL, exactly as it appears in <c>iss</c>.</summary>
    public string Issuer => Server.Origin;

    public string LiarIssuer => Server.Origin + "/liar";

    public static async Task<OidcFixture> StartAsync()
    {
        var fixture = new OidcFixture(await KeyServer.StartAsync());
        fixture.ServeDiscovery(fixture.Issuer, DiscoveryPath, JwksPath);
        fixture.ServeJwks(JwksPath, ClusterKey, ClusterEcKey);
        fixture.ServeDiscovery("https://someone-else.example", "/liar" + DiscoveryPath, JwksPath);
        return fixture;
    }

    public void ServeDiscovery(string issuer, string path, string jwksPath) =>
        Server.Serve(path, JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["issuer"] = issuer,
            ["jwks_uri"] = Server.Url(jwksPath),
            ["response_types_supported"] = new[] { "id_token" },
            ["subject_types_supported"] = new[] { "public" },
            ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
        }));

    public void ServeJwks(string path, params TestKey[] keys) => Server.Serve(path, Jwks(keys));

    public static string Jwks(params TestKey[] keys) =>
        JsonSerializer.Serialize(new { keys = keys.Select(k => k.Jwk(use: "sig", extra: new() { ["alg"] = k.Key is RSA ? "RS256" : "ES256" })).ToArray() });

    public OidcIssuerOptions IssuerOptions(Action<OidcIssuerOptions>? configure = null)
    {
        var issuer = new OidcIssuerOptions { Issuer = Issuer, Audience = Audience };
        configure?.Invoke(issuer);
        return issuer;
    }

    public OidcOptions Options(params OidcIssuerOptions[] issuers) => new()
    {
        Issuers = issuers.Length > 0 ? [.. issuers] : [IssuerOptions(), new OidcIssuerOptions { Issuer = LiarIssuer, Audience = Audience }],
    };

    /// <summary>An attestor whose start-up fetches have completed.</summary>
    public async Task<OidcAttestor> AttestorAsync(OidcOptions? options = null, ILogger<OidcAttestor>? log = null)
    {
        var attestor = new OidcAttestor(options ?? Options(), Time, log ?? NullLogger<OidcAttestor>.Instance);
        _attestors.Add(attestor);
        await Task.WhenAll(attestor.KeySources.Values.OfType<RefreshingKeySource>().Select(s => s.Refreshing));
        return attestor;
    }

    public Dictionary<string, object?> Header(TestKey key, string alg = "RS256") => new() { ["alg"] = alg, ["kid"] = key.Kid };

    /// <summary>Claims of a projected service account token (Kubernetes 1.29+ shape) for <see cref="Subject"/>.</summary>
    public Dictionary<string, object?> Claims(string? issuer = null) => new()
    {
        ["aud"] = new[] { Audience },
        ["exp"] = NowSeconds + 600,
        ["iat"] = NowSeconds - 10,
        ["nbf"] = NowSeconds - 10,
        ["iss"] = issuer ?? Issuer,
        ["jti"] = Guid.NewGuid().ToString(),
        ["kubernetes.io"] = new Dictionary<string, object?>
        {
            ["namespace"] = Namespace,
            ["node"] = new Dictionary<string, object?> { ["name"] = "node-1", ["uid"] = "5b9c3d2e-0000-4000-8000-000000000001" },
            ["pod"] = new Dictionary<string, object?> { ["name"] = "planner-7d9f", ["uid"] = "5b9c3d2e-0000-4000-8000-000000000002" },
            ["serviceaccount"] = new Dictionary<string, object?> { ["name"] = ServiceAccount, ["uid"] = "5b9c3d2e-0000-4000-8000-000000000003" },
        },
        ["sub"] = Subject,
    };

    public string Token(TestKey? key = null, string alg = "RS256", Action<Dictionary<string, object?>>? header = null, Action<Dictionary<string, object?>>? claims = null)
    {
        key ??= ClusterKey;
        var h = Header(key, alg);
        header?.Invoke(h);
        var c = Claims();
        claims?.Invoke(c);
        return SvidFixture.Sign(key, alg, h, c);
    }

    public async ValueTask DisposeAsync()
    {
        _attestors.ForEach(a => a.Dispose());
        await Server.DisposeAsync();
    }
}
