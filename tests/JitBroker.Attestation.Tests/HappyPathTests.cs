using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using JitBroker.Core;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using NUnit.Framework;
using static JitBroker.Attestation.Tests.SvidFixture;

namespace JitBroker.Attestation.Tests;

[TestFixture]
public sealed class HappyPathTests
{
    private SvidFixture _f = null!;

    [SetUp]
    public void SetUp() => _f = new SvidFixture();

    [TearDown]
    public void TearDown() => _f.Dispose();

    /// <summary>Tokens minted by an independent JOSE implementation (IdentityModel) verify here.</summary>
    [TestCase("ES256")]
    [TestCase("RS256")]
    [TestCase("PS256")]
    public async Task Token_minted_by_IdentityModel_is_attested(string alg)
    {
        SecurityKey key = alg == "ES256"
            ? new ECDsaSecurityKey((ECDsa)Es256.Key) { KeyId = Es256.Kid }
            : new RsaSecurityKey((RSA)Rsa.Key) { KeyId = Rsa.Kid };
        var handler = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false };
        var token = handler.CreateToken(new SecurityTokenDescriptor
        {
            Claims = new Dictionary<string, object> { ["sub"] = Subject },
            Audience = Audience,
            IssuedAt = _f.Now.UtcDateTime.AddSeconds(-5),
            Expires = _f.Now.UtcDateTime.AddMinutes(5),
            SigningCredentials = new SigningCredentials(key, alg),
        });

        var identity = await _f.Attestor().AttestAsync(new AttestationEvidence(token));

        Assert.That(identity.Id, Is.EqualTo(Subject));
        Assert.That(identity.EvidenceExpiresAt, Is.EqualTo(DateTimeOffset.FromUnixTimeSeconds(_f.NowSeconds + 300)));
    }

    [TestCase("ES256")]
    [TestCase("ES384")]
    [TestCase("ES512")]
    [TestCase("RS256")]
    [TestCase("RS384")]
    [TestCase("RS512")]
    [TestCase("PS256")]
    [TestCase("PS384")]
    [TestCase("PS512")]
    public async Task Every_JWT_SVID_algorithm_verifies(string alg)
    {
        var key = alg switch { "ES256" => Es256, "ES384" => Es384, "ES512" => Es521, _ => Rsa };

        var identity = await _f.Attestor().AttestAsync(new AttestationEvidence(_f.Token(key, alg)));

        Assert.That(identity.Id, Is.EqualTo(Subject));
    }

    [Test]
    public async Task Identity_reports_facts_from_the_verified_token()
    {
        var token = _f.Token(claims: c => c["jti"] = "svid-123");

        var identity = await _f.Attestor().AttestAsync(new AttestationEvidence(token));

        Assert.Multiple(() =>
        {
            Assert.That(identity.Id, Is.EqualTo("spiffe://prod.example.org/agents/planner"));
            Assert.That(identity.TrustDomain, Is.EqualTo(Prod));
            Assert.That(identity.Method, Is.EqualTo("jwt-svid"));
            Assert.That(identity.EvidenceExpiresAt, Is.EqualTo(DateTimeOffset.FromUnixTimeSeconds(_f.NowSeconds + 300)));
            Assert.That(identity.EvidenceId, Is.EqualTo("svid-123"));
            Assert.That(identity.EvidenceFingerprint, Is.EqualTo(Fingerprints.Of(token)));
            Assert.That(identity.Facts["spiffe_id"], Is.EqualTo(identity.Id));
            Assert.That(identity.Facts["trust_domain"], Is.EqualTo(Prod));
            Assert.That(identity.Facts["path"], Is.EqualTo("/agents/planner"));
            Assert.That(identity.Facts.ContainsKey("iss"), Is.False,
                "the SVID's own iss (https://spire.prod.example.org) is not an attested issuer, so it is no fact (issue 17)");
        });
        identity.EnsureWellFormed();
    }

    [Test]
    public async Task Optional_claims_and_headers_may_be_absent()
    {
        var token = _f.Token(header: h => h.Remove("typ"), claims: c => { c.Remove("jti"); c.Remove("iss"); c.Remove("iat"); });

        var identity = await _f.Attestor().AttestAsync(new AttestationEvidence(token));

        Assert.That(identity.EvidenceId, Is.Null);
        Assert.That(identity.Facts.ContainsKey("iss"), Is.False);
    }

    [TestCase("JOSE")]
    [TestCase("JWT")]
    public async Task Typ_JWT_and_JOSE_are_accepted(string typ) =>
        Assert.That((await _f.Attestor().AttestAsync(new AttestationEvidence(_f.Token(header: h => h["typ"] = typ)))).Id, Is.EqualTo(Subject));

    // JSON escapes spell the same string (RFC 8259 §7): the header's member names and its alg and typ are compared after
    // unescaping, as the claims are. (The duplicate-member check treats escaped names the same way.)
    [Test]
    public async Task Header_names_and_alg_and_typ_spelled_with_json_escapes_are_what_they_spell()
    {
        var header = Encoding.UTF8.GetBytes("{\"\\u0061lg\":\"ES\\u0032\\u0035\\u0036\",\"kid\":\"" + Es256.Kid + "\",\"t\\u0079p\":\"J\\u0057T\"}");
        var token = HostileTokenTests.SignedBytes(Es256, "ES256", header, JsonSerializer.SerializeToUtf8Bytes(_f.Claims()));

        Assert.That((await _f.Attestor().AttestAsync(new AttestationEvidence(token))).Id, Is.EqualTo(Subject));
    }

    [Test]
    public async Task Audience_array_containing_ours_is_accepted()
    {
        var token = _f.Token(claims: c => c["aud"] = new[] { "spiffe://elsewhere/x", Audience });
        Assert.That((await _f.Attestor().AttestAsync(new AttestationEvidence(token))).Id, Is.EqualTo(Subject));
    }

    [Test]
    public async Task Subject_in_another_configured_trust_domain_uses_that_domains_bundle()
    {
        var token = _f.Token(OtherKey, subject: "spiffe://other.example.org/ns/ci/sa/runner");

        var identity = await _f.Attestor().AttestAsync(new AttestationEvidence(token));

        Assert.That(identity.TrustDomain, Is.EqualTo(Other));
    }

    [Test]
    public async Task Leeway_is_applied_to_exp_and_nbf_and_no_further()
    {
        var attestor = _f.Attestor(o => o.Leeway = TimeSpan.FromSeconds(30));
        var expiredWithinLeeway = _f.Token(claims: c => c["exp"] = _f.NowSeconds - 29);
        var notBeforeWithinLeeway = _f.Token(claims: c => c["nbf"] = _f.NowSeconds + 29);
        var expiredAtLeeway = _f.Token(claims: c => c["exp"] = _f.NowSeconds - 30);

        Assert.That((await attestor.AttestAsync(new AttestationEvidence(expiredWithinLeeway))).Id, Is.EqualTo(Subject));
        Assert.That((await attestor.AttestAsync(new AttestationEvidence(notBeforeWithinLeeway))).Id, Is.EqualTo(Subject));
        var error = Assert.ThrowsAsync<BrokerException>(async () => await attestor.AttestAsync(new AttestationEvidence(expiredAtLeeway)))!;
        Assert.That(error.Reason, Is.EqualTo(Reasons.Attestation.Expired));
    }

    [Test]
    public async Task Token_expires_as_the_fake_clock_moves()
    {
        var attestor = _f.Attestor(o => o.Leeway = TimeSpan.Zero);
        var token = _f.Token(); // exp = now + 300 s

        Assert.That((await attestor.AttestAsync(new AttestationEvidence(token))).Id, Is.EqualTo(Subject));
        _f.Time.Advance(TimeSpan.FromSeconds(300));

        var error = Assert.ThrowsAsync<BrokerException>(async () => await attestor.AttestAsync(new AttestationEvidence(token)))!;
        Assert.That(error.Reason, Is.EqualTo(Reasons.Attestation.Expired));
    }

    [Test]
    public void Concurrent_verification_is_safe()
    {
        var attestor = _f.Attestor();
        var tokens = new[] { _f.Token(), _f.Token(Rsa, "RS256"), _f.Token(Rsa, "PS512"), _f.Token(Es521, "ES512") };

        var ids = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, 400, new ParallelOptions { MaxDegreeOfParallelism = 16 },
            i => ids.Add(attestor.AttestAsync(new AttestationEvidence(tokens[i % tokens.Length])).AsTask().GetAwaiter().GetResult().Id));

        Assert.That(ids, Has.Count.EqualTo(400).And.All.EqualTo(Subject));
    }

    [Test]
    public void Accepts_only_JWS_compact_shaped_bearer_tokens_with_a_spiffe_subject()
    {
        var attestor = _f.Attestor();
        var unsignedSpiffe = TestKey.B64Json(new { alg = "none" }) + "." + TestKey.B64Json(new { sub = "SPIFFE://x/y" }) + ".";
        Assert.Multiple(() =>
        {
            Assert.That(attestor.Method, Is.EqualTo("jwt-svid"));
            Assert.That(attestor.Accepts(new AttestationEvidence(_f.Token())), Is.True);
            Assert.That(attestor.Accepts(new AttestationEvidence(unsignedSpiffe)), Is.True, "routing only: validity is AttestAsync's job");
            Assert.That(attestor.Accepts(new AttestationEvidence("eyJhbGciOiJub25lIn0.e30.")), Is.False, "no sub: not a JWT-SVID");
            Assert.That(attestor.Accepts(new AttestationEvidence(_f.Token(subject: "system:serviceaccount:a:b"))), Is.False, "an OIDC subject");
            Assert.That(attestor.Accepts(new AttestationEvidence(null)), Is.False);
            Assert.That(attestor.Accepts(new AttestationEvidence("")), Is.False);
            Assert.That(attestor.Accepts(new AttestationEvidence("opaque-api-key")), Is.False);
            Assert.That(attestor.Accepts(new AttestationEvidence("a.b.c.d.e")), Is.False, "JWE");
            Assert.That(attestor.Accepts(new AttestationEvidence("a b.c.d")), Is.False);
        });
    }
}
