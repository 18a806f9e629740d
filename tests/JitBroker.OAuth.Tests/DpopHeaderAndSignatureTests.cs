using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Moq;
using NUnit.Framework;

namespace JitBroker.OAuth.Tests;

/// <summary>RFC 9449 §4.3 up to the signature: the JWS shape, the header, the jwk, the signature.</summary>
public sealed class DpopHeaderAndSignatureTests : DpopTestBase
{
    [TestCase("ES256")]
    [TestCase("ES384")]
    [TestCase("RS256")]
    [TestCase("PS256")]
    public async Task A_good_proof_with_each_supported_alg_is_accepted(string alg)
    {
        using var key = ProofKey.Create(alg);
        var payload = Payload();
        var proof = await Validate(key.Sign(key.Header(), payload));
        Assert.Multiple(() =>
        {
            Assert.That(proof.Algorithm, Is.EqualTo(alg));
            Assert.That(proof.Jti, Is.EqualTo((string)payload["jti"]!));
            Assert.That(proof.IssuedAt, Is.EqualTo(Now));
            Assert.That(proof.KeyThumbprint, Is.EqualTo(JwkThumbprint.Compute(System.Text.Json.JsonDocument.Parse(key.Jwk().ToJsonString()).RootElement)));
        });
    }

    [Test]
    public void The_supported_algorithms_are_the_four_asymmetric_ones() =>
        Assert.That(DpopProofValidator.SupportedAlgorithms, Is.EqualTo(new[] { "ES256", "ES384", "RS256", "PS256" }));

    [Test]
    public async Task A_proof_over_the_maximum_length_is_refused()
    {
        Options.MaxProofLength = 100;
        await Refused(GoodProof(), OAuthReasons.DpopProofTooLong);
    }

    [Test]
    public async Task A_proof_at_the_maximum_length_is_read()
    {
        var proof = GoodProof();
        Options.MaxProofLength = proof.Length;
        Assert.That((await Validate(proof)).Algorithm, Is.EqualTo("ES256"));
    }

    [TestCase("", TestName = "An empty proof is refused")]
    [TestCase("abc", TestName = "A proof of one part is refused")]
    [TestCase("e30.e30", TestName = "A proof of two parts is refused")]
    [TestCase("e30.e30.e30.e30", TestName = "A proof of four parts is refused")]
    [TestCase("e30=.e30.AAAA", TestName = "A padded part is refused")]
    [TestCase("e3+.e30.AAAA", TestName = "A part in the standard alphabet is refused")]
    [TestCase("e3 0.e30.AAAA", TestName = "Whitespace in a part is refused")]
    [TestCase("e31.e30.AAAA", TestName = "Non-zero trailing bits are refused")]
    [TestCase("e30.e.AAAA", TestName = "A part of impossible length is refused")]
    public async Task A_proof_that_is_not_three_strict_base64url_parts_is_refused(string proof) =>
        await Refused(proof, OAuthReasons.DpopProofMalformed);

    [TestCase("not json", TestName = "A header that is not JSON is refused")]
    [TestCase("[\"dpop+jwt\"]", TestName = "A header that is an array is refused")]
    [TestCase("{\"typ\":\"dpop+jwt\"", TestName = "A truncated header is refused")]
    public async Task A_header_that_is_not_a_json_object_is_refused(string header) =>
        await Refused(Key.SignRaw(header, Payload().ToJsonString()), OAuthReasons.DpopHeaderMalformed);

    [Test]
    public async Task A_header_that_is_not_utf8_is_refused()
    {
        var header = ProofKey.B64([(byte)'{', (byte)'"', 0xFF, (byte)'"', (byte)':', (byte)'1', (byte)'}']);
        var input = header + "." + ProofKey.B64(Encoding.UTF8.GetBytes(Payload().ToJsonString()));
        await Refused(input + "." + ProofKey.B64(Key.SignBytes(Encoding.ASCII.GetBytes(input))), OAuthReasons.DpopHeaderMalformed);
    }

    [Test]
    public async Task A_header_naming_alg_twice_is_refused()
    {
        var header = Key.Header().ToJsonString().Replace("\"alg\":\"ES256\"", "\"alg\":\"ES256\",\"alg\":\"none\"", StringComparison.Ordinal);
        await Refused(Key.SignRaw(header, Payload().ToJsonString()), OAuthReasons.DpopDuplicateMember);
    }

    [Test]
    public async Task A_jwk_naming_a_member_twice_is_refused()
    {
        var header = Key.Header().ToJsonString().Replace("\"kty\":\"EC\"", "\"kty\":\"EC\",\"kty\":\"RSA\"", StringComparison.Ordinal);
        await Refused(Key.SignRaw(header, Payload().ToJsonString()), OAuthReasons.DpopDuplicateMember);
    }

    [TestCase("JWT")]
    [TestCase("DPOP+JWT")]
    [TestCase("application/dpop+jwt")]
    [TestCase(null)]
    public async Task A_typ_other_than_dpop_jwt_is_refused(string? typ) =>
        await Refused(ProofWithHeader("typ", typ is null ? null : JsonValue.Create(typ)), OAuthReasons.DpopTypInvalid);

    [TestCase("none")]
    [TestCase("HS256")]
    [TestCase("ES512")]
    [TestCase("EdDSA")]
    [TestCase("es256")]
    [TestCase(null)]
    public async Task An_alg_outside_the_supported_list_is_refused(string? alg) =>
        await Refused(ProofWithHeader("alg", alg is null ? null : JsonValue.Create(alg)), OAuthReasons.DpopAlgUnsupported);

    [Test]
    public async Task An_alg_that_is_not_a_string_is_refused() =>
        await Refused(ProofWithHeader("alg", JsonValue.Create(256)), OAuthReasons.DpopAlgUnsupported);

    [Test]
    public async Task A_crit_header_is_refused() =>
        await Refused(ProofWithHeader("crit", new JsonArray("exp")), OAuthReasons.DpopCritUnsupported);

    [Test]
    public async Task A_header_without_jwk_is_refused() => await Refused(ProofWithHeader("jwk", null), OAuthReasons.DpopJwkMissing);

    [Test]
    public async Task A_jwk_that_is_not_an_object_is_refused() => await Refused(ProofWithHeader("jwk", "key"), OAuthReasons.DpopJwkMissing);

    [Test]
    public async Task An_ec_jwk_with_its_private_key_is_refused() =>
        await Refused(ProofWithHeader("jwk", Key.Jwk(includePrivate: true)), OAuthReasons.DpopJwkPrivate);

    [Test]
    public async Task An_rsa_jwk_with_its_private_key_is_refused()
    {
        using var key = ProofKey.Create("RS256");
        var header = key.Header();
        header["jwk"] = key.Jwk(includePrivate: true);
        await Refused(key.Sign(header, Payload()), OAuthReasons.DpopJwkPrivate);
    }

    [Test]
    public async Task A_symmetric_jwk_is_refused() =>
        await Refused(ProofWithHeader("jwk", new JsonObject { ["kty"] = "oct", ["k"] = "c2VjcmV0" }), OAuthReasons.DpopJwkPrivate);

    [Test]
    public async Task An_rsa_jwk_for_an_es256_proof_is_refused()
    {
        using var rsa = ProofKey.Create("RS256");
        await Refused(ProofWithHeader("jwk", rsa.Jwk()), OAuthReasons.DpopJwkKtyMismatch);
    }

    [Test]
    public async Task An_ec_jwk_for_an_rs256_proof_is_refused()
    {
        var header = Key.Header();
        header["alg"] = "RS256";
        await Refused(Key.Sign(header, Payload()), OAuthReasons.DpopJwkKtyMismatch);
    }

    [Test]
    public async Task A_p384_jwk_for_an_es256_proof_is_refused()
    {
        using var p384 = ProofKey.Create("ES384");
        await Refused(ProofWithHeader("jwk", p384.Jwk()), OAuthReasons.DpopJwkCurveMismatch);
    }

    [Test]
    public async Task A_p256_jwk_for_an_es384_proof_is_refused()
    {
        var header = Key.Header();
        header["alg"] = "ES384";
        await Refused(Key.Sign(header, Payload()), OAuthReasons.DpopJwkCurveMismatch);
    }

    [Test]
    public async Task An_rsa_key_under_2048_bits_is_refused()
    {
        using var key = ProofKey.Create("RS256", rsaBits: 1024);
        await Refused(key.Sign(key.Header(), Payload()), OAuthReasons.DpopJwkRsaKeySize);
    }

    [Test]
    public async Task A_point_not_on_the_curve_is_refused()
    {
        var jwk = Key.Jwk();
        var y = Convert.FromBase64String(((string)jwk["y"]!).Replace('-', '+').Replace('_', '/') + "=");
        y[^1] ^= 1;
        jwk["y"] = ProofKey.B64(y);
        await Refused(ProofWithHeader("jwk", jwk), OAuthReasons.DpopJwkInvalid);
    }

    [Test]
    public async Task A_coordinate_of_the_wrong_length_is_refused()
    {
        var jwk = Key.Jwk();
        jwk["x"] = ProofKey.B64(new byte[31]);
        await Refused(ProofWithHeader("jwk", jwk), OAuthReasons.DpopJwkInvalid);
    }

    [Test]
    public async Task A_signature_by_another_key_is_refused()
    {
        using var other = ProofKey.Create("ES256");
        var header = Key.Header();
        await Refused(other.Sign(header, Payload()), OAuthReasons.DpopSignatureInvalid);
    }

    [Test]
    public async Task A_der_encoded_ecdsa_signature_is_refused()
    {
        var proof = GoodProof();
        var input = proof[..proof.LastIndexOf('.')];
        var der = Key.SignBytes(Encoding.ASCII.GetBytes(input), DSASignatureFormat.Rfc3279DerSequence);
        await Refused(input + "." + ProofKey.B64(der), OAuthReasons.DpopSignatureInvalid);
    }

    [Test]
    public async Task A_truncated_signature_is_refused()
    {
        var proof = GoodProof();
        var cut = proof.LastIndexOf('.');
        var signature = System.Buffers.Text.Base64Url.DecodeFromChars(proof.AsSpan(cut + 1));
        await Refused(proof[..(cut + 1)] + ProofKey.B64(signature[..63]), OAuthReasons.DpopSignatureInvalid);
    }

    [Test]
    public async Task A_payload_changed_after_signing_is_refused()
    {
        var parts = GoodProof().Split('.');
        var forged = ProofKey.B64(Encoding.UTF8.GetBytes(Payload().ToJsonString()));
        await Refused($"{parts[0]}.{forged}.{parts[2]}", OAuthReasons.DpopSignatureInvalid);
    }

    [Test]
    public async Task A_pkcs1_signature_under_ps256_is_refused()
    {
        using var key = ProofKey.Create("RS256");
        var header = key.Header();
        header["alg"] = "PS256";
        await Refused(key.Sign(header, Payload()), OAuthReasons.DpopSignatureInvalid);
    }

    [Test]
    public async Task The_replay_store_sees_the_thumbprint_and_jti_until_iat_plus_age_plus_skew()
    {
        var payload = Payload();
        var proof = await Validate(Key.Sign(Key.Header(), payload));
        var key = "dpop:" + proof.KeyThumbprint + ":" + (string)payload["jti"]!;
        Replay.Verify(r => r.TryRecordAsync(key, Now + TimeSpan.FromSeconds(65), It.IsAny<CancellationToken>()), Times.Once);
    }

    [Test]
    public async Task A_replayed_proof_is_refused()
    {
        Replay.Setup(r => r.TryRecordAsync(It.IsAny<string>(), It.IsAny<DateTimeOffset>(), It.IsAny<CancellationToken>())).Returns(() => ValueTask.FromResult(false));
        await Refused(GoodProof(), OAuthReasons.DpopProofReplayed);
    }
}
