using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using JitBroker.Core;
using NUnit.Framework;
using static JitBroker.Attestation.Tests.OidcFixture;

namespace JitBroker.Attestation.Tests;

/// <summary>
/// Hostile battery for OIDC workload tokens: each is refused as Unauthenticated with exactly the expected
/// reason, and the caller's message carries no token, no token segment and no key material. The issuer is
/// configured with the subject pattern <c>system:serviceaccount:agents:*</c>.
/// </summary>
[TestFixture]
public sealed class OidcHostileTokenTests
{
    private OidcFixture _f = null!;
    private OidcAttestor _attestor = null!;

    [OneTimeSetUp]
    public async Task OneTimeSetUp()
    {
        _f = await OidcFixture.StartAsync();
        _attestor = await _f.AttestorAsync(_f.Options(
            _f.IssuerOptions(i => i.SubjectPatterns = ["system:serviceaccount:agents:*"]),
            new OidcIssuerOptions { Issuer = _f.LiarIssuer, Audience = Audience }));
    }

    [OneTimeTearDown]
    public async Task OneTimeTearDown() => await _f.DisposeAsync();

    public static IEnumerable<TestCaseData> Cases()
    {
        TestCaseData Case(string name, string reason, Func<OidcFixture, string> token) =>
            new TestCaseData(token, reason).SetName("Refuses_oidc_" + name);

        // Issuer.
        yield return Case("wrong_issuer", Reasons.Attestation.IssuerUnknown, f => f.Token(claims: c => c["iss"] = "https://evil.example"));
        yield return Case("issuer_with_trailing_slash", Reasons.Attestation.IssuerUnknown, f => f.Token(claims: c => c["iss"] = f.Issuer + "/"));
        yield return Case("issuer_case_differs", Reasons.Attestation.IssuerUnknown, f => f.Token(claims: c => c["iss"] = f.Issuer.ToUpperInvariant()));
        yield return Case("issuer_missing", Reasons.Attestation.IssuerUnknown, f => f.Token(claims: c => c.Remove("iss")));
        yield return Case("issuer_not_string", Reasons.Attestation.IssuerUnknown, f => f.Token(claims: c => c["iss"] = new[] { f.Issuer }));
        yield return Case("discovery_issuer_mismatch", Reasons.Attestation.BundleUnavailable, f => f.Token(claims: c => c["iss"] = f.LiarIssuer));

        // Algorithm and header.
        yield return Case("alg_none", Reasons.Attestation.AlgNotAllowed,
            f => TestKey.B64Json(new { alg = "none", kid = ClusterKey.Kid }) + "." + TestKey.B64Json(f.Claims()) + ".");
        yield return Case("hs256_with_public_key_pem", Reasons.Attestation.AlgNotAllowed,
            f => Hmac(f.Header(ClusterKey, "HS256"), f.Claims(), Encoding.ASCII.GetBytes(((RSA)ClusterKey.Key).ExportSubjectPublicKeyInfoPem())));
        yield return Case("jwe", Reasons.Attestation.JweRefused,
            _ => TestKey.B64Json(new { alg = "RSA-OAEP", enc = "A256GCM", zip = "DEF" }) + ".a2V5.aXY.Y2lwaGVy.dGFn");
        yield return Case("x5t_header_not_tolerated", Reasons.Attestation.HeaderNotAllowed, f => f.Token(header: h => h["x5t"] = "ykNaY4qM_ta4k2TgZOCEYLkcYlA"));
        yield return Case("jku_header", Reasons.Attestation.HeaderNotAllowed, f => f.Token(header: h => h["jku"] = f.Server.Url("/evil-jwks")));
        yield return Case("typ_at_jwt", Reasons.Attestation.TypNotAllowed, f => f.Token(header: h => h["typ"] = "at+jwt"));
        yield return Case("kid_missing", Reasons.Attestation.KidMissing, f => f.Token(header: h => h.Remove("kid")));
        yield return Case("huge", Reasons.Attestation.TooLarge, f => f.Token(claims: c => c["pad"] = new string('a', 9000)));
        yield return Case("truncated", Reasons.Attestation.Malformed, f => string.Join('.', f.Token().Split('.')[..2]));

        // Text encoding (issue 14 item 6): signed with the issuer's real key, so only the encoding is wrong,
        // and the refusal comes before any issuer, key or signature is looked at.
        yield return Case("iss_invalid_utf8", Reasons.Attestation.Malformed, f => EncodedClaim(f, "iss", f.Issuer + HostileTokenTests.Bad, [0xFF]));
        yield return Case("iss_overlong_utf8", Reasons.Attestation.Malformed, f => EncodedClaim(f, "iss", f.Issuer.Replace("://", ":" + HostileTokenTests.Bad, StringComparison.Ordinal), [0xC0, 0xAF, 0xC0, 0xAF]));
        yield return Case("sub_invalid_utf8", Reasons.Attestation.Malformed, f => EncodedClaim(f, "sub", Subject + HostileTokenTests.Bad, [0xFF]));
        yield return Case("sub_overlong_colon", Reasons.Attestation.Malformed, f => EncodedClaim(f, "sub", "system:serviceaccount:agents" + HostileTokenTests.Bad + "planner", [0xC0, 0xBA]));
        yield return Case("sub_lone_surrogate_escape", Reasons.Attestation.Malformed, f => EncodedClaim(f, "sub", Subject + HostileTokenTests.Bad, "\\ud83d"u8.ToArray()));
        yield return Case("sub_latin1", Reasons.Attestation.Malformed, f => EncodedClaim(f, "sub", Subject + HostileTokenTests.Bad, [0xE4]));
        yield return Case("k8s_namespace_invalid_utf8", Reasons.Attestation.Malformed, f =>
        {
            var claims = f.Claims();
            ((Dictionary<string, object?>)claims["kubernetes.io"]!)["namespace"] = "agents" + HostileTokenTests.Bad;
            return HostileTokenTests.SignedBytes(ClusterKey, "RS256", JsonSerializer.SerializeToUtf8Bytes(f.Header(ClusterKey)), HostileTokenTests.Spliced(claims, [0xFF]));
        });
        yield return Case("kid_invalid_utf8", Reasons.Attestation.Malformed, f =>
        {
            var header = f.Header(ClusterKey);
            header["kid"] = ClusterKey.Kid + HostileTokenTests.Bad;
            return HostileTokenTests.SignedBytes(ClusterKey, "RS256", HostileTokenTests.Spliced(header, [0xFE, 0xFF]), JsonSerializer.SerializeToUtf8Bytes(f.Claims()));
        });

        // Keys.
        yield return Case("unknown_kid_after_refresh", Reasons.Attestation.KidUnknown, f => f.Token(TestKey.Rsa("not-in-jwks")));
        yield return Case("signed_by_stranger_with_cluster_kid", Reasons.Attestation.SignatureInvalid,
            f => SvidFixture.Sign(RotatedKey, "RS256", f.Header(ClusterKey), f.Claims()));
        yield return Case("rs256_kid_of_ec_key", Reasons.Attestation.KeyMismatch,
            f => SvidFixture.Sign(ClusterKey, "RS256", f.Header(ClusterEcKey), f.Claims()));
        yield return Case("payload_swapped_after_signing", Reasons.Attestation.SignatureInvalid, f =>
        {
            var parts = f.Token().Split('.');
            var claims = f.Claims();
            claims["sub"] = "system:serviceaccount:agents:admin";
            return parts[0] + "." + TestKey.B64Json(claims) + "." + parts[2];
        });

        // Claims of a correctly signed token.
        yield return Case("wrong_audience", Reasons.Attestation.AudienceMismatch, f => f.Token(claims: c => c["aud"] = new[] { "https://kubernetes.default.svc" }));
        yield return Case("missing_audience", Reasons.Attestation.AudienceMissing, f => f.Token(claims: c => c.Remove("aud")));
        yield return Case("expired", Reasons.Attestation.Expired, f => f.Token(claims: c => { c["exp"] = f.NowSeconds - 31; c["iat"] = f.NowSeconds - 600; }));
        yield return Case("not_yet_valid", Reasons.Attestation.NotYetValid, f => f.Token(claims: c => c["nbf"] = f.NowSeconds + 120));
        yield return Case("too_old", Reasons.Attestation.TooOld, f => f.Token(claims: c => { c["iat"] = f.NowSeconds - 7300; c["nbf"] = f.NowSeconds - 7300; }));
        yield return Case("missing_exp", Reasons.Attestation.ExpMissing, f => f.Token(claims: c => c.Remove("exp")));
        yield return Case("sub_outside_pattern", Reasons.Attestation.SubNotAllowed, f => f.Token(claims: c =>
        {
            c["sub"] = "system:serviceaccount:kube-system:admin";
            ((Dictionary<string, object?>)c["kubernetes.io"]!)["namespace"] = "kube-system";
            ((Dictionary<string, object?>)((Dictionary<string, object?>)c["kubernetes.io"]!)["serviceaccount"]!)["name"] = "admin";
        }));
        yield return Case("sub_reaching_across_colon", Reasons.Attestation.SubNotAllowed, f => f.Token(claims: c =>
        {
            c["sub"] = "system:serviceaccount:agents:x:y";
            c.Remove("kubernetes.io");
        }));
        yield return Case("sub_missing", Reasons.Attestation.SubInvalid, f => f.Token(claims: c => c.Remove("sub")));
        yield return Case("sub_empty", Reasons.Attestation.SubInvalid, f => f.Token(claims: c => c["sub"] = ""));
        yield return Case("sub_control_character", Reasons.Attestation.SubInvalid, f => f.Token(claims: c => c["sub"] = Subject + "\n"));
        yield return Case("k8s_claim_names_other_namespace", Reasons.Attestation.ClaimInvalid,
            f => f.Token(claims: c => ((Dictionary<string, object?>)c["kubernetes.io"]!)["namespace"] = "kube-system"));
        yield return Case("k8s_claim_not_object", Reasons.Attestation.ClaimInvalid, f => f.Token(claims: c => c["kubernetes.io"] = "agents"));
        yield return Case("k8s_claim_without_serviceaccount", Reasons.Attestation.ClaimInvalid,
            f => f.Token(claims: c => ((Dictionary<string, object?>)c["kubernetes.io"]!).Remove("serviceaccount")));
        yield return Case("k8s_pod_name_not_string", Reasons.Attestation.ClaimInvalid,
            f => f.Token(claims: c => ((Dictionary<string, object?>)c["kubernetes.io"]!)["pod"] = new Dictionary<string, object?> { ["name"] = 7 }));
    }

    [TestCaseSource(nameof(Cases))]
    public void Hostile_oidc_token_is_refused_with_exact_reason(Func<OidcFixture, string> build, string reason)
    {
        var token = build(_f);

        var error = Assert.ThrowsAsync<BrokerException>(async () => await _attestor.AttestAsync(new AttestationEvidence(token)))!;

        Assert.Multiple(() =>
        {
            Assert.That(error.Reason, Is.EqualTo(reason));
            Assert.That(error.Failure, Is.EqualTo(BrokerFailure.Unauthenticated));
            Assert.That(error.InnerException, Is.Null);
            HostileTokenTests.AssertLeaksNothing(error.Message, token);
            foreach (var material in new[] { ClusterKey, ClusterEcKey, RotatedKey }.SelectMany(k => k.PublicMaterial()))
            {
                Assert.That(error.Message, Does.Not.Contain(material[..16]));
            }
        });
    }

    [Test]
    public void Routing_peek_at_an_issuer_that_is_not_UTF8_does_not_throw()
    {
        var token = EncodedClaim(_f, "iss", _f.Issuer + HostileTokenTests.Bad, [0xFF]);

        Assert.That(_attestor.Accepts(new AttestationEvidence(token)), Is.False, "not a configured issuer: no exception, no match");
    }

    private static string EncodedClaim(OidcFixture f, string name, string value, byte[] raw)
    {
        var claims = f.Claims();
        claims[name] = value;
        return HostileTokenTests.SignedBytes(ClusterKey, "RS256", JsonSerializer.SerializeToUtf8Bytes(f.Header(ClusterKey)), HostileTokenTests.Spliced(claims, raw));
    }

    [Test]
    public void Token_together_with_a_client_certificate_is_ambiguous()
    {
        var now = _f.Time.GetUtcNow();
        using var ca = JitBroker.Testing.X509SvidFactory.CreateCa("prod.example.org", now.AddDays(-1), now.AddDays(30));
        using var leaf = JitBroker.Testing.X509SvidFactory.CreateLeaf(ca, "spiffe://prod.example.org/agents/planner", now.AddHours(-1), now.AddHours(1));

        var error = Assert.ThrowsAsync<BrokerException>(async () => await _attestor.AttestAsync(new AttestationEvidence(_f.Token(), leaf)))!;

        Assert.That(error.Reason, Is.EqualTo(Reasons.Attestation.EvidenceAmbiguous));
    }

    private static string Hmac(object header, object claims, byte[] secret)
    {
        var input = TestKey.B64Json(header) + "." + TestKey.B64Json(claims);
        return input + "." + TestKey.B64(HMACSHA256.HashData(secret, Encoding.ASCII.GetBytes(input)));
    }
}
