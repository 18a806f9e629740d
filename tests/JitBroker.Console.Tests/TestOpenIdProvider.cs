using System.Collections.Concurrent;
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
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace JitBroker.Console.Tests;

/// <summary>The person the provider signs in next (it has no login form: the test decides who "types the password").</summary>
public sealed record TestPerson(string Subject, string? Email = null, string[]? Groups = null, TimeSpan? SignedInAgo = null);

/// <summary>
/// A small OpenID provider on 127.0.0.1 for Kestrel-level tests: discovery, an authorization endpoint that signs in
/// <see cref="NextPerson"/> at once, a token endpoint that checks the PKCE verifier against the challenge, and an ES256
/// JWKS. It records every authorization request so tests can assert what the console asked for (PKCE, max_age, prompt).
/// </summary>
public sealed class TestOpenIdProvider : IAsyncDisposable
{
    public const string ClientId = "jitbroker-console";
    private readonly WebApplication _app;
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly ConcurrentDictionary<string, (IQueryCollection Request, TestPerson Person)> _codes = new();

    private TestOpenIdProvider(WebApplication app) => _app = app;

    public string Issuer { get; private set; } = "";

    public TestPerson NextPerson { get; set; } = new("alice", "alice@corp.example", ["approvers"]);

    /// <summary>Every authorization request's query, in order.</summary>
    public ConcurrentQueue<IQueryCollection> AuthorizationRequests { get; } = new();

    public static async Task<TestOpenIdProvider> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var provider = new TestOpenIdProvider(app);
        app.MapGet("/.well-known/openid-configuration", provider.Discovery);
        app.MapGet("/jwks", provider.Jwks);
        app.MapGet("/authorize", provider.Authorize);
        app.MapPost("/token", provider.TokenAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        provider.Issuer = new Uri(address).GetLeftPart(UriPartial.Authority);
        return provider;
    }

    private IResult Discovery() => Results.Json(new Dictionary<string, object>
    {
        ["issuer"] = Issuer,
        ["authorization_endpoint"] = Issuer + "/authorize",
        ["token_endpoint"] = Issuer + "/token",
        ["jwks_uri"] = Issuer + "/jwks",
        ["response_types_supported"] = new[] { "code" },
        ["subject_types_supported"] = new[] { "public" },
        ["id_token_signing_alg_values_supported"] = new[] { "ES256" },
        ["code_challenge_methods_supported"] = new[] { "S256" },
    });

    private IResult Jwks()
    {
        var p = _key.ExportParameters(false);
        return Results.Json(new { keys = new[] { new { kty = "EC", crv = "P-256", use = "sig", alg = "ES256", kid = "test", x = Base64UrlEncoder.Encode(p.Q.X), y = Base64UrlEncoder.Encode(p.Q.Y) } } });
    }

    private IResult Authorize(HttpRequest request)
    {
        AuthorizationRequests.Enqueue(request.Query);
        var code = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        _codes[code] = (request.Query, NextPerson);
        var redirect = request.Query["redirect_uri"].ToString();
        return Results.Redirect($"{redirect}?code={code}&state={Uri.EscapeDataString(request.Query["state"].ToString())}");
    }

    private async Task<IResult> TokenAsync(HttpRequest request)
    {
        var form = await request.ReadFormAsync();
        if (!_codes.TryRemove(form["code"].ToString(), out var issued))
        {
            return Results.Json(new { error = "invalid_grant" }, statusCode: 400);
        }

        // PKCE (RFC 7636 S256): the verifier the console kept must hash to the challenge it sent.
        var verifier = form["code_verifier"].ToString();
        var challenge = Base64UrlEncoder.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));
        if (verifier.Length == 0 || challenge != issued.Request["code_challenge"].ToString() || form["redirect_uri"] != issued.Request["redirect_uri"])
        {
            return Results.Json(new { error = "invalid_grant", error_description = "PKCE or redirect_uri mismatch" }, statusCode: 400);
        }

        var accessToken = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        return Results.Json(new
        {
            access_token = accessToken,
            token_type = "Bearer",
            expires_in = 300,
            id_token = IdToken(issued.Person, issued.Request["nonce"].ToString(), accessToken),
        });
    }

    private string IdToken(TestPerson person, string nonce, string accessToken)
    {
        var now = DateTimeOffset.UtcNow;
        var claims = new Dictionary<string, object>
        {
            ["sub"] = person.Subject,
            ["nonce"] = nonce,
            ["auth_time"] = (now - (person.SignedInAgo ?? TimeSpan.Zero)).ToUnixTimeSeconds(),
            ["at_hash"] = Base64UrlEncoder.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(accessToken))[..16]),
            ["name"] = person.Subject,
        };
        if (person.Email is not null)
        {
            claims["email"] = person.Email;
            claims["email_verified"] = true;
        }

        if (person.Groups is not null)
        {
            claims["groups"] = person.Groups;
        }

        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = ClientId,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = now.AddMinutes(5).UtcDateTime,
            Claims = claims,
            SigningCredentials = new SigningCredentials(new ECDsaSecurityKey(_key) { KeyId = "test" }, SecurityAlgorithms.EcdsaSha256),
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        _key.Dispose();
    }
}
