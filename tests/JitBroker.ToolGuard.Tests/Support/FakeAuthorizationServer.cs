using System.Net;
using System.Security.Cryptography;
using JitBroker.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace JitBroker.ToolGuard.Tests.Support;

/// <summary>
/// An in-test authorization server for what the real broker never issues on demand — an expired token, a token of
/// another typ, a certificate-bound token for a certificate the test made — and an introspection endpoint the test
/// controls (active, inactive, down). Serves OpenID metadata and a JWKS like the broker does.
/// </summary>
public sealed class FakeAuthorizationServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    private FakeAuthorizationServer(WebApplication app, string issuer)
    {
        _app = app;
        Issuer = issuer;
    }

    public string Issuer { get; }

    /// <summary>What introspection answers: true/false for active, null for HTTP 503.</summary>
    public bool? IntrospectionActive { get; set; } = true;

    private int _introspectionCalls;

    public int IntrospectionCalls => Volatile.Read(ref _introspectionCalls);

    public static Task<FakeAuthorizationServer> StartAsync() => LoopbackPorts.StartOnFreePortAsync(StartAsync);

    private static async Task<FakeAuthorizationServer> StartAsync(int port)
    {
        var issuer = $"http://127.0.0.1:{port}";
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        var server = new FakeAuthorizationServer(app, issuer);
        app.MapGet("/.well-known/openid-configuration", () => Results.Json(new
        {
            issuer,
            jwks_uri = issuer + "/jwks",
            introspection_endpoint = issuer + "/introspect",
            token_endpoint = issuer + "/token",
        }));
        app.MapGet("/jwks", () =>
        {
            var p = server._key.ExportParameters(false);
            return Results.Json(new { keys = new[] { new { kty = "EC", crv = "P-256", kid = "k1", alg = "ES256", use = "sig", x = Base64UrlEncoder.Encode(p.Q.X), y = Base64UrlEncoder.Encode(p.Q.Y) } } });
        });
        app.MapPost("/introspect", async (HttpContext http) =>
        {
            Interlocked.Increment(ref server._introspectionCalls);
            var form = await http.Request.ReadFormAsync();
            if (form["client_assertion_type"] != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" || form["client_assertion"] != "tool-svid")
            {
                return Results.Json(new { error = "invalid_client" }, statusCode: 401);
            }

            return server.IntrospectionActive is { } active ? Results.Json(new { active }) : Results.StatusCode(503);
        });
        await app.StartAsync();
        return server;
    }

    /// <summary>A signed token; <paramref name="claims"/> add to or replace the defaults (tools zendesk, action tickets.read, resources tickets/*).</summary>
    public string Mint(IDictionary<string, object>? claims = null, string typ = "at+jwt", string audience = ToolServer.Resource,
        TimeSpan? lifetime = null, DateTimeOffset? issuedAt = null)
    {
        var iat = issuedAt ?? DateTimeOffset.UtcNow;
        var all = new Dictionary<string, object>
        {
            ["sub"] = "spiffe://dev.jitbroker.local/agents/fake",
            ["jti"] = "lease_" + Guid.NewGuid().ToString("N"),
            ["client_id"] = "spiffe://dev.jitbroker.local/agents/fake",
            ["tools"] = new[] { "zendesk" },
            ["action"] = "tickets.read",
            ["resources"] = new[] { "tickets/*" },
        };
        foreach (var (name, value) in claims ?? new Dictionary<string, object>())
        {
            all[name] = value;
        }

        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = audience,
            IssuedAt = iat.UtcDateTime,
            NotBefore = iat.UtcDateTime,
            Expires = (iat + (lifetime ?? TimeSpan.FromMinutes(5))).UtcDateTime,
            TokenType = typ,
            Claims = all,
            SigningCredentials = new SigningCredentials(new ECDsaSecurityKey(_key) { KeyId = "k1" }, SecurityAlgorithms.EcdsaSha256),
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _key.Dispose();
    }
}
