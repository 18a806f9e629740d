using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// A stock ASP.NET Core resource server — AddJwtBearer pointed at the broker's issuer, nothing of JitBroker in it — is a
/// relying party built by someone else: it discovers the JWKS through the metadata and judges the door's tokens on its own.
/// It must accept a token for its audience and refuse one for another audience, a tampered one and an expired one. A
/// revoked token stays valid to a JWKS-only verifier until it expires; only introspection knows (asserted as such).
/// </summary>
[NonParallelizable]
public sealed class OAuthJwtBearerResourceServerTests
{
    private const string Tickets = BrokerServerFixture.TicketsAudience;
    private const string Crm = "https://crm.internal.example";
    private static readonly string Agent = E2E.Agent("rs-client");

    /// <summary>Two audiences, so the broker can mint a valid token that is simply not for this resource server.</summary>
    private const string Policy = """
        version: 1
        rules:
          - id: agents-tickets
            effect: allow
            principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/agents/*"] }
            actions: ["tickets.read", "tickets.create"]
            tools: ["zendesk"]
            resources: ["tickets/*"]
            credential: { kind: jwt, audiences: ["https://tickets.internal.example", "https://crm.internal.example"], max_ttl: 10m }
        """;

    private PolicyDirectory _policy = null!;
    private BrokerServerFixture _broker = null!;
    private WebApplication _resourceServer = null!;
    private HttpClient _http = null!;
    private Uri _endpoint = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _policy = new PolicyDirectory().Write("10-tickets.yaml", Policy);
        _broker = await OAuthBroker.StartAsync(new Dictionary<string, string?>
        {
            ["JitBroker:Policy:Path"] = _policy.Path,
            ["JitBroker:Broker:MinTtl"] = "00:00:01", // the expiry test asks for a 2-second token
        });
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Services.AddAuthentication().AddJwtBearer(o =>
        {
            o.Authority = OAuthBroker.Issuer(_broker);
            o.Audience = Tickets;
            o.RequireHttpsMetadata = false; // the embedded broker's issuer is http on loopback
            o.MapInboundClaims = false;
            o.TokenValidationParameters.ClockSkew = TimeSpan.Zero; // the default 5 minutes would hide the expiry test
        });
        builder.Services.AddAuthorization();
        _resourceServer = builder.Build();
        _resourceServer.UseAuthentication();
        _resourceServer.UseAuthorization();
        _resourceServer.MapGet("/tickets/1", [Authorize] (HttpContext http) => Results.Json(new
        {
            sub = http.User.FindFirst("sub")?.Value, client_id = http.User.FindFirst("client_id")?.Value, scope = http.User.FindFirst("scope")?.Value,
        }));
        await _resourceServer.StartAsync();
        _endpoint = new Uri(_resourceServer.Urls.Single() + "/tickets/1");
        _http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        _http.Dispose();
        await _resourceServer.DisposeAsync();
        await _broker.DisposeAsync();
        _policy.Dispose();
    }

    private async Task<(HttpStatusCode Status, string Body, string Challenge)> CallAsync(string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, _endpoint);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await _http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), string.Join(", ", response.Headers.WwwAuthenticate.Select(h => h.ToString())));
    }

    [Test]
    public async Task A_token_from_the_token_endpoint_is_accepted_with_its_claims()
    {
        var token = await OAuthHttp.TokenAsync(_http, _broker, Agent, Tickets, "tickets.read tool:zendesk");
        var (status, body, _) = await CallAsync(token);
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), body);
        var claims = JsonDocument.Parse(body).RootElement;
        Assert.Multiple(() =>
        {
            Assert.That(claims.GetProperty("client_id").GetString(), Is.EqualTo(Agent));
            Assert.That(claims.GetProperty("scope").GetString(), Is.EqualTo("tickets.read tool:zendesk"));
        });
        Assert.That((await CallAsync("")).Status, Is.EqualTo(HttpStatusCode.Unauthorized), "the endpoint does require a token");
    }

    [Test]
    public async Task A_token_for_another_audience_is_refused()
    {
        var token = await OAuthHttp.TokenAsync(_http, _broker, Agent, Crm, "tickets.read");
        var (status, _, challenge) = await CallAsync(token);
        Assert.That(status, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(challenge, Does.Contain("invalid_token").And.Contain("audience"));
    }

    [Test]
    public async Task A_tampered_token_is_refused()
    {
        var token = await OAuthHttp.TokenAsync(_http, _broker, Agent, Tickets, "tickets.read tool:zendesk");
        Assert.That((await CallAsync(token)).Status, Is.EqualTo(HttpStatusCode.OK), "the untampered token is good");

        var widened = await CallAsync(OAuthHttp.WidenScope(token));
        var flipped = await CallAsync(OAuthHttp.FlipPayloadCharacter(token));
        Assert.Multiple(() =>
        {
            Assert.That(widened.Status, Is.EqualTo(HttpStatusCode.Unauthorized), "scope widened, signature kept");
            Assert.That(widened.Challenge, Does.Contain("invalid_token").And.Contain("signature"));
            Assert.That(flipped.Status, Is.EqualTo(HttpStatusCode.Unauthorized), "one payload character changed");
        });
    }

    [Test]
    public async Task An_expired_token_is_refused()
    {
        var token = await OAuthHttp.TokenAsync(_http, _broker, Agent, Tickets, "tickets.read", ttlSeconds: 2);
        var exp = DateTimeOffset.FromUnixTimeSeconds(JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(token.Split('.')[1]))
            .RootElement.GetProperty("exp").GetInt64());
        Assert.That((await CallAsync(token)).Status, Is.EqualTo(HttpStatusCode.OK), "valid before exp");

        await Task.Delay(exp - TimeProvider.System.GetUtcNow() + TimeSpan.FromMilliseconds(1100));
        var (status, _, challenge) = await CallAsync(token);
        Assert.That(status, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(challenge, Does.Contain("invalid_token").And.Contain("expired"));
    }

    [Test]
    public async Task A_revoked_token_is_still_accepted_by_a_jwks_only_verifier_but_introspection_says_inactive()
    {
        var token = await OAuthHttp.TokenAsync(_http, _broker, Agent, Tickets, "tickets.read");
        Assert.That((await OAuthHttp.IntrospectAsync(_http, _broker, token)).GetProperty("active").GetBoolean(), Is.True);

        Assert.That(await OAuthHttp.RevokeAsync(_http, _broker, Agent, token), Is.EqualTo(HttpStatusCode.OK));

        // The honest limit of self-contained tokens: a verifier that only checks signature, iss, aud and exp cannot know.
        // Short TTLs bound it; a resource server that must know introspects.
        Assert.That((await CallAsync(token)).Status, Is.EqualTo(HttpStatusCode.OK), "JWKS-only: still valid until exp");
        var introspected = await OAuthHttp.IntrospectAsync(_http, _broker, token);
        Assert.That(introspected.GetProperty("active").GetBoolean(), Is.False);
    }
}
