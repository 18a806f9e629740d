using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.IdentityModel.Tokens;
using NUnit.Framework;

namespace JitBroker.OAuth.Tests;

/// <summary>RFC 7638 thumbprints: the RFC's own vector, agreement with an independent library, and refusals.</summary>
public sealed class JwkThumbprintTests
{
    private const string Rfc7638Modulus =
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknj" +
        "hMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQ" +
        "vRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement;

    [Test]
    public void The_rfc_7638_example_has_its_published_thumbprint() =>
        Assert.That(JwkThumbprint.Compute(Json($$"""{"kty":"RSA","n":"{{Rfc7638Modulus}}","e":"AQAB","alg":"RS256","kid":"2011-04-29"}""")),
            Is.EqualTo("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"));

    [TestCase("ES256")]
    [TestCase("ES384")]
    [TestCase("RS256")]
    public void A_thumbprint_agrees_with_microsoft_identity_model(string alg)
    {
        using var key = ProofKey.Create(alg);
        var jwk = key.Jwk();
        var independent = Base64UrlEncoder.Encode(JsonWebKey.Create(jwk.ToJsonString()).ComputeJwkThumbprint());
        Assert.That(JwkThumbprint.Compute(Json(jwk.ToJsonString())), Is.EqualTo(independent));
    }

    [Test]
    public void Optional_members_and_member_order_do_not_change_the_thumbprint() =>
        Assert.That(JwkThumbprint.Compute(Json("""{"y":"b","use":"sig","x":"a","crv":"P-256","kty":"EC"}""")),
            Is.EqualTo(JwkThumbprint.Compute(Json("""{"kty":"EC","crv":"P-256","x":"a","y":"b"}"""))));

    [Test]
    public void An_okp_key_has_a_thumbprint_over_crv_kty_x() =>
        Assert.That(JwkThumbprint.Compute(Json("""{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}""")),
            Is.EqualTo("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")); // RFC 8037 §A.3

    [TestCase("""{"kty":"oct","k":"c2VjcmV0"}""", TestName = "A symmetric JWK has no thumbprint here")]
    [TestCase("""{"crv":"P-256","x":"a","y":"b"}""", TestName = "A JWK without kty has no thumbprint")]
    [TestCase("""{"kty":"EC","crv":"P-256","x":"a"}""", TestName = "An EC JWK without y has no thumbprint")]
    [TestCase("""{"kty":"RSA","n":"a","e":1}""", TestName = "A JWK with a numeric member has no thumbprint")]
    [TestCase("""{"kty":"RSA","n":"a\"b","e":"AQAB"}""", TestName = "A JWK member needing escapes has no thumbprint")]
    [TestCase("""{"kty":"RSA","n":"a","e":"AQAB","e":"AQAA"}""", TestName = "A JWK naming a member twice has no thumbprint")]
    [TestCase("""["kty"]""", TestName = "A JWK that is not an object has no thumbprint")]
    public void Unsupported_jwks_are_refused(string jwk) =>
        Refusal.Expect(() => JwkThumbprint.Compute(Json(jwk)), OAuthErrors.InvalidDpopProof, OAuthReasons.JwkUnsupported);

    [Test]
    public async Task A_proof_made_by_microsoft_identity_model_passes()
    {
        // An independent JOSE implementation builds and signs the proof; only the key comes from the BCL.
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var signingKey = new ECDsaSecurityKey(ecdsa);
        var publicJwk = JsonWebKeyConverter.ConvertFromECDsaSecurityKey(new ECDsaSecurityKey(ECDsa.Create(ecdsa.ExportParameters(false))));
        var now = new DateTimeOffset(2026, 12, 3, 8, 0, 0, TimeSpan.Zero);
        var proof = new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(
            """{"jti":"interop-1","htm":"POST","htu":"https://broker.example/oauth/token","iat":""" + now.ToUnixTimeSeconds() + "}",
            new SigningCredentials(signingKey, SecurityAlgorithms.EcdsaSha256),
            new Dictionary<string, object>
            {
                ["typ"] = "dpop+jwt",
                ["jwk"] = new Dictionary<string, object> { ["kty"] = "EC", ["crv"] = "P-256", ["x"] = publicJwk.X, ["y"] = publicJwk.Y },
            });
        var replay = new Moq.Mock<IDpopReplayStore>();
        replay.Setup(r => r.TryRecordAsync(Moq.It.IsAny<string>(), Moq.It.IsAny<DateTimeOffset>(), Moq.It.IsAny<CancellationToken>())).Returns(() => ValueTask.FromResult(true));
        var validator = new DpopProofValidator(new DpopValidationOptions(), replay.Object, new Microsoft.Extensions.Time.Testing.FakeTimeProvider(now));

        var verified = await validator.ValidateAsync(proof, new DpopRequest("POST", new Uri("https://broker.example/oauth/token")));

        Assert.That(verified.Jti, Is.EqualTo("interop-1"));
        Assert.That(verified.KeyThumbprint, Is.EqualTo(Base64UrlEncoder.Encode(publicJwk.ComputeJwkThumbprint())));
    }
}
