using System.Text;
using System.Text.Json;
using JitBroker.Core;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using NUnit.Framework;

namespace JitBroker.Issuance.Tests;

/// <summary>Delegated credentials (RFC 8693 act chain) and the signed delegation offers.</summary>
public sealed class DelegationClaimsTests
{
    private StaticSigningKeyProvider _keys = null!;

    [SetUp]
    public void SetUp() => _keys = new StaticSigningKeyProvider(SigningKey.Generate());

    [TearDown]
    public void TearDown() => _keys.Dispose();

    [Test]
    public async Task A_delegated_token_names_the_root_subject_and_nests_actors_current_first()
    {
        var issuer = TestData.NewIssuer(_keys, new FakeTimeProvider(DateTimeOffset.UtcNow));
        var chain = new DelegationChain("spiffe://corp/agents/planner", ["spiffe://corp/w3", "spiffe://corp/w2", "spiffe://corp/w1"]);
        var request = TestData.Request(TimeSpan.FromMinutes(1)) with { Delegation = chain };

        var credential = await issuer.IssueAsync(request);
        var jwt = new JsonWebToken(credential.Secret);
        using var payload = JsonDocument.Parse(Base64UrlDecode(credential.Secret.Split('.')[1]));
        var act = payload.RootElement.GetProperty("act");

        Assert.Multiple(() =>
        {
            Assert.That(jwt.Subject, Is.EqualTo("spiffe://corp/agents/planner"));
            Assert.That(jwt.GetPayloadValue<string>("client_id"), Is.EqualTo(TestData.AgentId), "the worker holding it is the client");
            Assert.That(act.GetProperty("sub").GetString(), Is.EqualTo("spiffe://corp/w3"), "current actor outermost");
            Assert.That(act.GetProperty("act").GetProperty("sub").GetString(), Is.EqualTo("spiffe://corp/w2"));
            Assert.That(act.GetProperty("act").GetProperty("act").GetProperty("sub").GetString(), Is.EqualTo("spiffe://corp/w1"));
            Assert.That(act.GetProperty("act").GetProperty("act").TryGetProperty("act", out _), Is.False);
            Assert.That(issuer.Verify(credential.Secret)?.Subject, Is.EqualTo("spiffe://corp/agents/planner"));
        });
    }

    [Test]
    public async Task Renewing_a_delegated_token_keeps_the_root_subject_and_the_act_chain()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var issuer = TestData.NewIssuer(_keys, clock);
        var chain = new DelegationChain("spiffe://corp/agents/planner", ["spiffe://corp/w2", "spiffe://corp/w1"]);
        var request = TestData.Request(TimeSpan.FromMinutes(1)) with { Delegation = chain };
        var credential = await issuer.IssueAsync(request);
        clock.Advance(TimeSpan.FromSeconds(30));

        var renewed = await issuer.RenewAsync(JitBroker.Testing.IssuedLeases.For(request, credential), request.Agent, clock.GetUtcNow().AddMinutes(1), chain);
        using var payload = JsonDocument.Parse(Base64UrlDecode(renewed.NewSecret!.Split('.')[1]));
        var claims = payload.RootElement;

        Assert.Multiple(() =>
        {
            Assert.That(claims.GetProperty("sub").GetString(), Is.EqualTo("spiffe://corp/agents/planner"));
            Assert.That(claims.GetProperty("client_id").GetString(), Is.EqualTo(TestData.AgentId));
            Assert.That(claims.GetProperty("act").GetProperty("sub").GetString(), Is.EqualTo("spiffe://corp/w2"));
            Assert.That(claims.GetProperty("act").GetProperty("act").GetProperty("sub").GetString(), Is.EqualTo("spiffe://corp/w1"));
            Assert.That(renewed.ExpiresAt, Is.GreaterThan(credential.ExpiresAt), "a renewal, not a re-issue of the same token");
        });
    }

    [Test]
    public void A_direct_token_has_no_act_claim()
    {
        var issuer = TestData.NewIssuer(_keys, new FakeTimeProvider(DateTimeOffset.UtcNow));
        var credential = issuer.IssueAsync(TestData.Request(TimeSpan.FromMinutes(1))).AsTask().GetAwaiter().GetResult();
        using var payload = JsonDocument.Parse(Base64UrlDecode(credential.Secret.Split('.')[1]));
        Assert.That(payload.RootElement.TryGetProperty("act", out _), Is.False);
    }

    [Test]
    public void Offers_round_trip_and_any_tampering_or_foreign_key_is_refused()
    {
        var codec = new DelegationOfferCodec(_keys);
        var offer = new DelegationOffer("dof_1", "lease_abc", "spiffe://corp/p", "spiffe://corp/w", ["zendesk"], ["tickets/1"],
            TimeSpan.FromMinutes(3), DateTimeOffset.FromUnixTimeSeconds(2_000_000_000));
        var token = codec.Encode(offer);

        var decoded = codec.Decode(token)!;
        Assert.That(decoded with { Tools = offer.Tools, Resources = offer.Resources }, Is.EqualTo(offer));
        Assert.That(decoded.Tools, Is.EqualTo(new[] { "zendesk" }));
        Assert.That(decoded.Resources, Is.EqualTo(new[] { "tickets/1" }));

        var parts = token.Split('.');
        var forgedPayload = Base64UrlEncode(JsonSerializer.SerializeToUtf8Bytes(new { jti = "dof_1", parent = "lease_abc", planner = "spiffe://corp/p",
            worker = "spiffe://corp/attacker", tools = new[] { "zendesk" }, resources = Array.Empty<string>(), ttl = 180, exp = 2_000_000_000 }));
        Assert.That(codec.Decode($"{parts[0]}.{forgedPayload}.{parts[2]}"), Is.Null, "payload swapped under the signature");

        using var other = new StaticSigningKeyProvider(SigningKey.Generate());
        Assert.That(new DelegationOfferCodec(other).Decode(token), Is.Null, "another broker's key");
        Assert.That(codec.Decode("garbage"), Is.Null);
        Assert.That(codec.Decode("a.b.c.d.e"), Is.Null);
        // Issue 14 item 6: a header that is not UTF-8 text (read before the signature) is a refusal, never an exception.
        var header = Base64UrlDecode(parts[0]);
        var kid = Encoding.UTF8.GetBytes(_keys.Current.KeyId);
        var at = header.AsSpan().IndexOf(kid) + kid.Length;
        foreach (var raw in new byte[][] { [0xFF], [0xC0, 0xAD], "\\ud800"u8.ToArray() })
        {
            Assert.That(codec.Decode(TestData.ForgeBytes(_keys.Current, [.. header[..at], .. raw, .. header[at..]], Base64UrlDecode(parts[1]))), Is.Null);
        }

        // A task credential is never accepted as an offer (distinct typ), whatever its signature.
        var credential = TestData.NewIssuer(_keys, new FakeTimeProvider(DateTimeOffset.UtcNow)).IssueAsync(TestData.Request(TimeSpan.FromMinutes(1))).AsTask().GetAwaiter().GetResult();
        Assert.That(codec.Decode(credential.Secret), Is.Null);
    }

    private static byte[] Base64UrlDecode(string s) =>
        Convert.FromBase64String(s.Replace('-', '+').Replace('_', '/').PadRight(s.Length + ((4 - (s.Length % 4)) % 4), '='));

    private static string Base64UrlEncode(byte[] b) => Convert.ToBase64String(b).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
