using System.Buffers.Text;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace JitBroker.Server.Tests;

/// <summary>
/// A Kubernetes-like OIDC issuer on 127.0.0.1: discovery document and JWKS served by a real Kestrel, an RS256
/// key, and projected service-account tokens with the <c>kubernetes.io</c> claim.
/// </summary>
internal sealed class TestOidcIssuer : IAsyncDisposable
{
    public const string Audience = "jitbroker";
    private const string JwksPath = "/openid/v1/jwks";
    private readonly WebApplication _app;
    private readonly RSA _key = RSA.Create(2048);
    private int _jwksHits;

    private TestOidcIssuer(WebApplication app) => _app = app;

    /// <summary>The exact <c>iss</c>, e.g. <c>http://127.0.0.1:41234</c>.</summary>
    public string Issuer { get; private set; } = "";

    public string KeyId { get; } = "k8s-test-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));

    public int JwksHits => Volatile.Read(ref _jwksHits);

    public static async Task<TestOidcIssuer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var issuer = new TestOidcIssuer(app);
        app.Run(issuer.HandleAsync);
        await app.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        issuer.Issuer = new Uri(address).GetLeftPart(UriPartial.Authority);
        return issuer;
    }

    /// <summary>A projected service-account token for <paramref name="serviceAccount"/> in <paramref name="ns"/>, minted now.</summary>
    public string Token(string ns, string serviceAccount, string audience = Audience)
    {
        var now = TimeProvider.System.GetUtcNow().ToUnixTimeSeconds();
        var header = new Dictionary<string, object> { ["alg"] = "RS256", ["kid"] = KeyId };
        var claims = new Dictionary<string, object>
        {
            ["aud"] = new[] { audience },
            ["exp"] = now + 600,
            ["iat"] = now - 5,
            ["nbf"] = now - 5,
            ["iss"] = Issuer,
            ["jti"] = Guid.NewGuid().ToString(),
            ["kubernetes.io"] = new Dictionary<string, object>
            {
                ["namespace"] = ns,
                ["pod"] = new Dictionary<string, object> { ["name"] = serviceAccount + "-7d9f", ["uid"] = Guid.NewGuid().ToString() },
                ["serviceaccount"] = new Dictionary<string, object> { ["name"] = serviceAccount, ["uid"] = Guid.NewGuid().ToString() },
            },
            ["sub"] = $"system:serviceaccount:{ns}:{serviceAccount}",
        };
        var input = B64(JsonSerializer.SerializeToUtf8Bytes(header)) + "." + B64(JsonSerializer.SerializeToUtf8Bytes(claims));
        var signature = _key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return input + "." + B64(signature);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _key.Dispose();
    }

    private async Task HandleAsync(HttpContext context)
    {
        context.Response.ContentType = "application/json";
        switch (context.Request.Path.Value)
        {
            case "/.well-known/openid-configuration":
                await context.Response.WriteAsync(JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["issuer"] = Issuer,
                    ["jwks_uri"] = Issuer + JwksPath,
                    ["response_types_supported"] = new[] { "id_token" },
                    ["subject_types_supported"] = new[] { "public" },
                    ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
                }));
                return;
            case JwksPath:
                Interlocked.Increment(ref _jwksHits);
                var p = _key.ExportParameters(false);
                await context.Response.WriteAsync(JsonSerializer.Serialize(new
                {
                    keys = new[] { new Dictionary<string, string> { ["kty"] = "RSA", ["alg"] = "RS256", ["use"] = "sig", ["kid"] = KeyId, ["n"] = B64(p.Modulus!), ["e"] = B64(p.Exponent!) } },
                }));
                return;
            default:
                context.Response.StatusCode = 404;
                return;
        }
    }

    private static string B64(ReadOnlySpan<byte> bytes) => Base64Url.EncodeToString(bytes);
}
