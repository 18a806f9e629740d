using System.Text.Json;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// Debian's python3-jwt (PyJWT) as a relying party (interop/oauth_verify.py): from the issuer alone it finds the metadata,
/// follows jwks_uri and verifies the door's tokens — signature, iss, aud, exp — with no broker code. A tampered token and
/// one for another audience must fail there too. scripts/test.sh installs python3-jwt; without it these tests fail.
/// </summary>
[NonParallelizable]
public sealed class OAuthPythonVerifyTests
{
    private const string Crm = "https://crm.internal.example";
    private static readonly string Agent = E2E.Agent("py-client");

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

    private JsonElement _out;
    private string _issuer = "";
    private string _token = "";

    [OneTimeSetUp]
    public async Task RunVerifier()
    {
        using var policy = new PolicyDirectory().Write("10-tickets.yaml", Policy);
        await using var broker = await OAuthBroker.StartAsync(new Dictionary<string, string?> { ["JitBroker:Policy:Path"] = policy.Path });
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        _issuer = OAuthBroker.Issuer(broker);
        _token = await OAuthHttp.TokenAsync(http, broker, Agent, BrokerServerFixture.TicketsAudience, "tickets.read tool:zendesk");
        var tokens = new Dictionary<string, string>
        {
            ["good"] = _token,
            ["widened"] = OAuthHttp.WidenScope(_token),
            ["flipped"] = OAuthHttp.FlipPayloadCharacter(_token),
            ["other_audience"] = await OAuthHttp.TokenAsync(http, broker, Agent, Crm, "tickets.read"),
        };
        var request = JsonSerializer.Serialize(new { issuer = _issuer, audience = BrokerServerFixture.TicketsAudience, tokens });
        var script = Path.Combine(TestContext.CurrentContext.TestDirectory, "interop", "oauth_verify.py");
        _out = JsonDocument.Parse(await OAuthPeer.RunAsync(OAuthPeer.Python, [script], request)).RootElement.Clone();
    }

    private JsonElement Token(string name) => _out.GetProperty("tokens").GetProperty(name);

    [Test]
    public void The_metadata_leads_to_the_jwks_of_the_issuer()
    {
        Assert.That(_out.GetProperty("metadata_issuer").GetString(), Is.EqualTo(_issuer));
        Assert.That(_out.GetProperty("jwks_uri").GetString(), Is.EqualTo(_issuer + "/.well-known/jwks.json"));
    }

    [Test]
    public void A_token_from_the_token_endpoint_verifies_with_its_claims()
    {
        var good = Token("good");
        Assert.That(good.GetProperty("valid").GetBoolean(), Is.True, good.ToString());
        var claims = good.GetProperty("claims");
        Assert.Multiple(() =>
        {
            Assert.That(claims.GetProperty("iss").GetString(), Is.EqualTo(_issuer));
            Assert.That(claims.GetProperty("aud").GetString(), Is.EqualTo(BrokerServerFixture.TicketsAudience));
            Assert.That(claims.GetProperty("client_id").GetString(), Is.EqualTo(Agent));
            Assert.That(claims.GetProperty("scope").GetString(), Is.EqualTo("tickets.read tool:zendesk"));
            Assert.That(claims.GetProperty("exp").GetInt64(), Is.GreaterThan(TimeProvider.System.GetUtcNow().ToUnixTimeSeconds()));
            Assert.That(good.GetProperty("alg").GetString(), Is.EqualTo("ES256"));
        });
    }

    [Test]
    public void A_tampered_token_fails_verification()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Token("widened").GetProperty("valid").GetBoolean(), Is.False);
            Assert.That(Token("widened").GetProperty("error").GetString(), Is.EqualTo("InvalidSignatureError"), "scope widened, signature kept");
            Assert.That(Token("flipped").GetProperty("valid").GetBoolean(), Is.False);
            Assert.That(Token("flipped").GetProperty("error").GetString(), Is.AnyOf("InvalidSignatureError", "DecodeError"));
        });
    }

    [Test]
    public void A_token_for_another_audience_fails_verification()
    {
        Assert.That(Token("other_audience").GetProperty("valid").GetBoolean(), Is.False);
        Assert.That(Token("other_audience").GetProperty("error").GetString(), Is.EqualTo("InvalidAudienceError"));
    }
}
