using System.Buffers.Text;
using System.Text;
using System.Text.Json.Nodes;
using JitBroker.Core;
using Microsoft.Extensions.Time.Testing;
using NUnit.Framework;

namespace JitBroker.Issuance.Tests;

/// <summary>Verify: claims for our own good tokens, null (never an exception) for anything else.</summary>
public sealed class JwtVerificationTests
{
    private StaticSigningKeyProvider _keys = null!;
    private JwtCredentialIssuer _issuer = null!;
    private IssueRequest _request = null!;
    private string _token = null!;

    [SetUp]
    public async Task SetUp()
    {
        _keys = new StaticSigningKeyProvider(SigningKey.Generate());
        _issuer = TestData.NewIssuer(_keys, new FakeTimeProvider(TestData.Start));
        _request = TestData.Request(TimeSpan.FromMinutes(5), TestData.Agent(TestData.CertThumbprint));
        _token = (await _issuer.IssueAsync(_request)).Secret;
    }

    [TearDown]
    public void TearDown() => _keys.Dispose();

    private string Header => TestData.DecodeSegment(TestData.Segments(_token)[0]).ToJsonString();

    private JsonObject Payload => TestData.DecodeSegment(TestData.Segments(_token)[1]);

    private string HeaderWith(string member, JsonNode? value)
    {
        var header = JsonNode.Parse(Header)!.AsObject();
        header[member] = value;
        return header.ToJsonString();
    }

    private string PayloadWith(string member, JsonNode? value)
    {
        var payload = Payload;
        if (value is null)
        {
            payload.Remove(member);
        }
        else
        {
            payload[member] = value;
        }

        return payload.ToJsonString();
    }

    [Test]
    public void A_good_token_yields_its_claims()
    {
        var claims = _issuer.Verify(_token);

        Assert.That(claims, Is.Not.Null);
        Assert.Multiple(() =>
        {
            Assert.That(claims!.LeaseId, Is.EqualTo(_request.LeaseId));
            Assert.That(claims.Issuer, Is.EqualTo(TestData.Issuer));
            Assert.That(claims.Subject, Is.EqualTo(TestData.AgentId));
            Assert.That(claims.TaskId, Is.EqualTo(TestData.TaskId));
            Assert.That(claims.Scope.Audience, Is.EqualTo(TestData.Scope.Audience));
            Assert.That(claims.Scope.Action, Is.EqualTo(TestData.Scope.Action));
            Assert.That(claims.Scope.Tools, Is.EqualTo(TestData.Scope.Tools));
            Assert.That(claims.Scope.Resources, Is.EqualTo(TestData.Scope.Resources));
            Assert.That(claims.IssuedAt, Is.EqualTo(TestData.Start));
            Assert.That(claims.ExpiresAt, Is.EqualTo(TestData.Start.AddMinutes(5)));
        });
    }

    [Test]
    public void An_expired_token_still_verifies_because_expiry_is_the_callers_concern()
    {
        var time = new FakeTimeProvider(TestData.Start);
        var issuer = TestData.NewIssuer(_keys, time);
        var token = issuer.IssueAsync(TestData.Request(TimeSpan.FromSeconds(30))).AsTask().Result.Secret;
        time.Advance(TimeSpan.FromHours(2));

        Assert.That(issuer.Verify(token)?.ExpiresAt, Is.EqualTo(TestData.Start.AddSeconds(30)));
    }

    [Test]
    public void Media_type_comparison_of_typ_ignores_case()
    {
        var token = TestData.Forge(_keys.Current, HeaderWith("typ", "AT+JWT"), Payload.ToJsonString());
        Assert.That(_issuer.Verify(token), Is.Not.Null);
    }

    [Test]
    public void Bit_flipped_signature_is_refused()
    {
        var parts = TestData.Segments(_token);
        var signature = Base64Url.DecodeFromChars(parts[2]);
        signature[17] ^= 0x01;

        Assert.That(_issuer.Verify($"{parts[0]}.{parts[1]}.{Base64Url.EncodeToString(signature)}"), Is.Null);
    }

    [Test]
    public void Changed_payload_under_the_original_signature_is_refused()
    {
        var parts = TestData.Segments(_token);
        var forged = TestData.Encode(PayloadWith("aud", "https://admin.example"));
        Assert.That(_issuer.Verify($"{parts[0]}.{forged}.{parts[2]}"), Is.Null);
    }

    [Test]
    public void A_token_signed_by_another_key_is_refused()
    {
        using var other = new StaticSigningKeyProvider(SigningKey.Generate());
        var foreign = TestData.NewIssuer(other).IssueAsync(TestData.Request()).AsTask().Result.Secret;

        // Same kid as ours, but another key's signature.
        var sameKid = TestData.Forge(other.Current, Header, Payload.ToJsonString());

        Assert.Multiple(() =>
        {
            Assert.That(_issuer.Verify(foreign), Is.Null);
            Assert.That(_issuer.Verify(sameKid), Is.Null);
        });
    }

    [Test]
    public void Wrong_typ_is_refused()
    {
        var jwtTyped = TestData.NewIssuer(_keys, tokenType: "JWT").IssueAsync(TestData.Request()).AsTask().Result.Secret;
        var noTyp = TestData.Forge(_keys.Current, HeaderWith("typ", null), Payload.ToJsonString());

        Assert.Multiple(() =>
        {
            Assert.That(_issuer.Verify(jwtTyped), Is.Null);
            Assert.That(_issuer.Verify(noTyp), Is.Null);
        });
    }

    [Test]
    public void Alg_none_is_refused()
    {
        var parts = TestData.Segments(_token);
        var none = TestData.Encode(HeaderWith("alg", "none"));

        Assert.Multiple(() =>
        {
            Assert.That(_issuer.Verify($"{none}.{parts[1]}."), Is.Null, "empty signature");
            Assert.That(_issuer.Verify($"{none}.{parts[1]}.{parts[2]}"), Is.Null, "original signature");
        });
    }

    [TestCase("HS256")]
    [TestCase("ES384")]
    [TestCase("es256")]
    public void Any_alg_other_than_ES256_is_refused_even_with_a_valid_ES256_signature(string alg)
    {
        var token = TestData.Forge(_keys.Current, HeaderWith("alg", alg), Payload.ToJsonString());
        Assert.That(_issuer.Verify(token), Is.Null);
    }

    [TestCase("crit", TestName = "crit header")]
    [TestCase("jku", TestName = "jku header")]
    [TestCase("jwk", TestName = "jwk header")]
    [TestCase("zip", TestName = "zip header")]
    public void Header_members_we_never_write_are_refused(string member)
    {
        var token = TestData.Forge(_keys.Current, HeaderWith(member, "x"), Payload.ToJsonString());
        Assert.That(_issuer.Verify(token), Is.Null);
    }

    [Test]
    public void Unknown_kid_and_duplicate_header_members_are_refused()
    {
        var unknownKid = TestData.Forge(_keys.Current, HeaderWith("kid", "not-our-key"), Payload.ToJsonString());
        var duplicateAlg = TestData.Forge(_keys.Current,
            Header.Replace("\"alg\":\"ES256\"", "\"alg\":\"none\",\"alg\":\"ES256\"", StringComparison.Ordinal), Payload.ToJsonString());

        Assert.Multiple(() =>
        {
            Assert.That(_issuer.Verify(unknownKid), Is.Null);
            Assert.That(duplicateAlg, Does.Contain('.'));
            Assert.That(_issuer.Verify(duplicateAlg), Is.Null);
        });
    }

    // Issue 14 item 6: text that is not UTF-8 in the header (read before the signature) is a refusal, never an exception.
    [TestCase(new byte[] { 0xFF }, TestName = "kid with an invalid UTF-8 byte")]
    [TestCase(new byte[] { 0xC0, 0xAD }, TestName = "kid with an overlong UTF-8 encoding")]
    [TestCase(new byte[] { 0x5C, 0x75, 0x64, 0x38, 0x30, 0x30 }, TestName = "kid with an escaped lone surrogate")]
    public void A_header_that_is_not_UTF8_text_is_refused_without_throwing(byte[] raw)
    {
        var header = Encoding.UTF8.GetBytes(Header);
        var kid = Encoding.UTF8.GetBytes(_keys.Current.KeyId);
        var at = header.AsSpan().IndexOf(kid) + kid.Length;
        var token = TestData.ForgeBytes(_keys.Current, [.. header[..at], .. raw, .. header[at..]], Encoding.UTF8.GetBytes(Payload.ToJsonString()));

        Assert.That(_issuer.Verify(token), Is.Null);
    }

    [Test]
    public void Wrong_iss_is_refused()
    {
        var otherIssuer = TestData.NewIssuer(_keys, issuer: "https://evil.example").IssueAsync(TestData.Request()).AsTask().Result.Secret;
        Assert.That(_issuer.Verify(otherIssuer), Is.Null);
    }

    [TestCase("iss", TestName = "no iss")]
    [TestCase("jti", TestName = "no jti")]
    [TestCase("sub", TestName = "no sub")]
    [TestCase("aud", TestName = "no aud")]
    [TestCase("task_id", TestName = "no task_id")]
    [TestCase("action", TestName = "no action")]
    [TestCase("tools", TestName = "no tools")]
    [TestCase("resources", TestName = "no resources")]
    [TestCase("iat", TestName = "no iat")]
    [TestCase("exp", TestName = "no exp")]
    public void A_signed_token_missing_a_claim_is_refused(string claim)
    {
        var token = TestData.Forge(_keys.Current, Header, PayloadWith(claim, null));
        Assert.That(_issuer.Verify(token), Is.Null);
    }

    [TestCase("aud", "[\"a\",\"b\"]", TestName = "aud array")]
    [TestCase("jti", "\"lease_not-a-lease-id\"", TestName = "malformed jti")]
    [TestCase("exp", "\"1800000000\"", TestName = "exp as string")]
    [TestCase("exp", "1.5", TestName = "fractional exp")]
    [TestCase("exp", "1e400", TestName = "exp out of range")]
    [TestCase("exp", "1000", TestName = "exp before iat")]
    [TestCase("iat", "-99999999999999", TestName = "iat before year 1")]
    [TestCase("tools", "[\"a\",1]", TestName = "tool not a string")]
    [TestCase("resources", "\"r\"", TestName = "resources not an array")]
    [TestCase("sub", "\"\"", TestName = "empty sub")]
    public void A_signed_token_with_a_malformed_claim_is_refused(string claim, string json)
    {
        var payload = Payload;
        payload[claim] = null;
        var text = payload.ToJsonString().Replace($"\"{claim}\":null", $"\"{claim}\":{json}", StringComparison.Ordinal);

        Assert.That(_issuer.Verify(TestData.Forge(_keys.Current, Header, text)), Is.Null);
    }

    [TestCase("[]", TestName = "payload is an array")]
    [TestCase("{\"iss\":\"https://jitbroker.local\",\"iss\":\"https://jitbroker.local\"}", TestName = "duplicate iss")]
    [TestCase("{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":1}}}}}", TestName = "deep nesting")]
    [TestCase("not json", TestName = "payload not json")]
    public void A_signed_payload_that_is_not_a_claims_object_is_refused(string payload) =>
        Assert.That(_issuer.Verify(TestData.Forge(_keys.Current, Header, payload)), Is.Null);

    [Test]
    public void Five_segments_are_refused()
    {
        var parts = TestData.Segments(_token);
        Assert.Multiple(() =>
        {
            Assert.That(_issuer.Verify($"{_token}.{parts[1]}.{parts[2]}"), Is.Null);
            Assert.That(_issuer.Verify("eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..aaaa.bbbb.cccc"), Is.Null);
        });
    }

    [TestCase("", TestName = "empty")]
    [TestCase("garbage", TestName = "no dots")]
    [TestCase("..", TestName = "empty segments")]
    [TestCase("a.b.c", TestName = "tiny segments")]
    [TestCase("a.b", TestName = "two segments")]
    [TestCase("!!!.???.###", TestName = "not base64url")]
    public void Garbage_is_refused(string token) => Assert.That(_issuer.Verify(token), Is.Null);

    [Test]
    public void Padding_and_whitespace_inside_segments_are_refused()
    {
        var parts = TestData.Segments(_token);
        Assert.Multiple(() =>
        {
            Assert.That(_issuer.Verify($"{parts[0]} .{parts[1]}.{parts[2]}"), Is.Null);
            Assert.That(_issuer.Verify($"{parts[0]}.{parts[1]}==.{parts[2]}"), Is.Null);
            Assert.That(_issuer.Verify($" {_token}"), Is.Null);
        });
    }

    [Test]
    public void A_validly_signed_token_above_16_KiB_is_refused()
    {
        var resources = Enumerable.Range(0, 64).Select(i => $"resource-{i}-" + new string('r', 250)).ToArray();
        var request = TestData.Request(scope: TestData.Scope with { Resources = resources });
        var huge = _issuer.IssueAsync(request).AsTask().Result.Secret;

        Assert.Multiple(() =>
        {
            Assert.That(huge, Has.Length.GreaterThan(JwtCredentialIssuer.MaxTokenLength));
            Assert.That(_issuer.Verify(huge), Is.Null);
            Assert.That(_issuer.Verify(new string('a', 1 << 20)), Is.Null);
        });
    }

    [Test]
    public void Every_truncation_and_every_single_character_change_is_refused_without_throwing()
    {
        for (var length = 0; length < _token.Length; length++)
        {
            Assert.That(_issuer.Verify(_token[..length]), Is.Null, $"prefix of length {length}");
        }

        var chars = _token.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            var original = chars[i];
            foreach (var replacement in new[] { 'A', '.', '-', '\0' })
            {
                if (replacement == original)
                {
                    continue;
                }

                chars[i] = replacement;
                Assert.That(_issuer.Verify(new string(chars)), Is.Null, $"'{replacement}' at {i}");
            }

            chars[i] = original;
        }
    }
}
