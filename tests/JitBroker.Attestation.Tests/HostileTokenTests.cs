using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using JitBroker.Core;
using NUnit.Framework;
using static JitBroker.Attestation.Tests.SvidFixture;

namespace JitBroker.Attestation.Tests;

/// <summary>
/// Hostile battery: every token here must be refused as Unauthenticated with exactly the expected reason,
/// and the caller's message must carry no token, no token segment and no key material.
/// </summary>
[TestFixture]
public sealed class HostileTokenTests
{
    private SvidFixture _f = null!;

    [SetUp]
    public void SetUp() => _f = new SvidFixture();

    [TearDown]
    public void TearDown() => _f.Dispose();

    public static IEnumerable<TestCaseData> Cases()
    {
        TestCaseData Case(string name, string reason, Func<SvidFixture, string> token) =>
            new TestCaseData(token, reason).SetName("Refuses_" + name);

        // Step 1: shape.
        yield return Case("huge_token", Reasons.Attestation.TooLarge, f => f.Token(claims: c => c["pad"] = new string('a', 9000)));
        yield return Case("jwe_five_segments", Reasons.Attestation.JweRefused,
            _ => TestKey.B64Json(new { alg = "RSA-OAEP", enc = "A256GCM", zip = "DEF" }) + ".a2V5.aXY.Y2lwaGVy.dGFn");
        yield return Case("two_segments_truncated", Reasons.Attestation.Malformed, f => string.Join('.', f.Token().Split('.')[..2]));
        yield return Case("four_segments", Reasons.Attestation.Malformed, f => f.Token() + ".eyJ9");
        yield return Case("malformed_base64_plus", Reasons.Attestation.Malformed, f => CorruptPayloadAlphabet(f.Token()));
        yield return Case("padded_base64", Reasons.Attestation.Malformed, f => f.Token() + "=="); // 64-byte signature: "==" is its padded spelling
        yield return Case("noncanonical_base64_signature", Reasons.Attestation.Malformed, f => TweakSpareBits(f.Token()));
        yield return Case("non_json_payload", Reasons.Attestation.Malformed,
            f => Raw(f.Header(Es256, "ES256"), TestKey.B64Text("sub=spiffe://prod.example.org/x")));
        yield return Case("json_array_payload", Reasons.Attestation.Malformed, f => Raw(f.Header(Es256, "ES256"), TestKey.B64Text("[1,2]")));
        yield return Case("duplicate_header_member", Reasons.Attestation.Malformed,
            f => RawText("{\"alg\":\"ES256\",\"kid\":\"prod-es256\",\"alg\":\"none\"}", f.Claims()));
        yield return Case("duplicate_claim", Reasons.Attestation.Malformed,
            f => RawText("{\"alg\":\"ES256\",\"kid\":\"prod-es256\"}", null, "{\"sub\":\"spiffe://prod.example.org/a\",\"sub\":\"spiffe://prod.example.org/b\"}"));
        yield return Case("duplicate_claim_escaped", Reasons.Attestation.Malformed,
            f => RawText("{\"alg\":\"ES256\",\"kid\":\"prod-es256\"}", null, "{\"sub\":\"spiffe://prod.example.org/a\",\"s\\u0075b\":\"spiffe://prod.example.org/b\"}"));
        yield return Case("json_serialization", Reasons.Attestation.Malformed, _ => "{\"payload\":\"eyJ9\",\"signatures\":[]}");

        // Step 1: text encoding (issue 14 item 6). Each token is signed with the real key, so the only defect
        // is its encoding: the refusal comes from the shape step, before any key lookup or signature check.
        yield return Case("kid_invalid_utf8", Reasons.Attestation.Malformed, f => EncodedHeader(f.Header(Es256, "ES256"), "kid", Es256.Kid + Bad, [0xFF], f.Claims()));
        yield return Case("kid_overlong_utf8", Reasons.Attestation.Malformed, f => EncodedHeader(f.Header(Es256, "ES256"), "kid", "prod" + Bad + "es256", [0xC0, 0xAD], f.Claims()));
        yield return Case("kid_lone_surrogate_escape", Reasons.Attestation.Malformed, f => EncodedHeader(f.Header(Es256, "ES256"), "kid", Es256.Kid + Bad, "\\ud800"u8.ToArray(), f.Claims()));
        yield return Case("typ_invalid_utf8", Reasons.Attestation.Malformed, f => EncodedHeader(f.Header(Es256, "ES256"), "typ", "JW" + Bad, [0xD4], f.Claims()));
        yield return Case("header_name_invalid_utf8", Reasons.Attestation.Malformed, f => EncodedHeader(f.Header(Es256, "ES256"), "x" + Bad, "y", [0xFF], f.Claims()));
        yield return Case("sub_invalid_utf8", Reasons.Attestation.Malformed, f => EncodedClaim(f.Header(Es256, "ES256"), f.Claims(), "sub", Subject + Bad, [0xFE]));
        yield return Case("sub_overlong_slash", Reasons.Attestation.Malformed, f => EncodedClaim(f.Header(Es256, "ES256"), f.Claims(), "sub", "spiffe://prod.example.org/agents" + Bad + "planner", [0xC0, 0xAF]));
        yield return Case("sub_four_byte_overlong", Reasons.Attestation.Malformed, f => EncodedClaim(f.Header(Es256, "ES256"), f.Claims(), "sub", Subject + Bad, [0xF0, 0x80, 0x80, 0xAF]));
        yield return Case("sub_utf8_encoded_surrogate", Reasons.Attestation.Malformed, f => EncodedClaim(f.Header(Es256, "ES256"), f.Claims(), "sub", Subject + Bad, [0xED, 0xA0, 0x80]));
        yield return Case("sub_truncated_sequence", Reasons.Attestation.Malformed, f => EncodedClaim(f.Header(Es256, "ES256"), f.Claims(), "sub", Subject + Bad, [0xE2, 0x82]));
        yield return Case("sub_lone_surrogate_escape", Reasons.Attestation.Malformed, f => EncodedClaim(f.Header(Es256, "ES256"), f.Claims(), "sub", Subject + Bad, "\\udc00"u8.ToArray()));
        yield return Case("unrelated_claim_latin1", Reasons.Attestation.Malformed, f => EncodedClaim(f.Header(Es256, "ES256"), f.Claims(), "note", "caf" + Bad, [0xE9]));
        yield return Case("claim_name_invalid_utf8", Reasons.Attestation.Malformed, f => EncodedClaim(f.Header(Es256, "ES256"), f.Claims(), "n" + Bad, "v", [0x80]));
        yield return Case("payload_utf16", Reasons.Attestation.Malformed, f => SignedBytes(Es256, "ES256",
            JsonSerializer.SerializeToUtf8Bytes(f.Header(Es256, "ES256")), Encoding.Unicode.GetBytes(JsonSerializer.Serialize(f.Claims()))));
        yield return Case("token_with_non_ascii_character", Reasons.Attestation.Malformed, f => f.Token().Replace('.', '\u2024'));
        yield return Case("token_with_latin1_character", Reasons.Attestation.Malformed, f => "é" + f.Token());

        // Step 2: header.
        yield return Case("alg_none", Reasons.Attestation.AlgNotAllowed,
            f => TestKey.B64Json(new { alg = "none", typ = "JWT" }) + "." + TestKey.B64Json(f.Claims()) + ".");
        yield return Case("alg_none_with_kid", Reasons.Attestation.AlgNotAllowed,
            f => TestKey.B64Json(new { alg = "none", kid = Es256.Kid }) + "." + TestKey.B64Json(f.Claims()) + ".");
        yield return Case("hs256_with_public_jwk_bytes", Reasons.Attestation.AlgNotAllowed,
            f => Hmac(f.Header(Es256, "HS256"), f.Claims(), Encoding.UTF8.GetBytes(System.Text.Json.JsonSerializer.Serialize(Es256.Jwk()))));
        yield return Case("hs256_with_rsa_public_pem", Reasons.Attestation.AlgNotAllowed,
            f => Hmac(f.Header(Rsa, "HS256"), f.Claims(), Encoding.ASCII.GetBytes(((RSA)Rsa.Key).ExportSubjectPublicKeyInfoPem())));
        yield return Case("alg_lowercase", Reasons.Attestation.AlgNotAllowed, f => f.Token(header: h => h["alg"] = "es256"));
        yield return Case("alg_es256k", Reasons.Attestation.AlgNotAllowed, f => f.Token(header: h => h["alg"] = "ES256K"));
        yield return Case("alg_not_string", Reasons.Attestation.AlgNotAllowed, f => f.Token(header: h => h["alg"] = 256));
        yield return Case("alg_prefix_of_a_name", Reasons.Attestation.AlgNotAllowed, f => f.Token(header: h => h["alg"] = "ES25"));
        yield return Case("alg_name_with_suffix", Reasons.Attestation.AlgNotAllowed, f => f.Token(header: h => h["alg"] = "ES2560"));
        yield return Case("alg_trailing_space", Reasons.Attestation.AlgNotAllowed, f => f.Token(header: h => h["alg"] = "ES256 "));
        yield return Case("alg_nul_suffix", Reasons.Attestation.AlgNotAllowed, f => f.Token(header: h => h["alg"] = "ES256\0"));
        yield return Case("extra_header_jku", Reasons.Attestation.HeaderNotAllowed, f => f.Token(header: h => h["jku"] = "https://evil.example/jwks"));
        yield return Case("extra_header_jku_escaped", Reasons.Attestation.HeaderNotAllowed,
            f => RawText("{\"alg\":\"ES256\",\"kid\":\"prod-es256\",\"j\\u006bu\":\"https://evil.example/jwks\"}", f.Claims()));
        yield return Case("extra_header_named_like_alg", Reasons.Attestation.HeaderNotAllowed, f => f.Token(header: h => h["algx"] = "ES256"));
        yield return Case("embedded_jwk_header", Reasons.Attestation.HeaderNotAllowed, f => f.Token(header: h => h["jwk"] = Stranger.Jwk()));
        yield return Case("crit_header", Reasons.Attestation.HeaderNotAllowed, f => f.Token(header: h => h["crit"] = new[] { "exp" }));
        yield return Case("b64_false_header", Reasons.Attestation.HeaderNotAllowed, f => f.Token(header: h => h["b64"] = false));
        yield return Case("typ_wrong", Reasons.Attestation.TypNotAllowed, f => f.Token(header: h => h["typ"] = "at+jwt"));
        yield return Case("typ_lowercase", Reasons.Attestation.TypNotAllowed, f => f.Token(header: h => h["typ"] = "jwt"));
        yield return Case("typ_name_with_suffix", Reasons.Attestation.TypNotAllowed, f => f.Token(header: h => h["typ"] = "JWTX"));
        yield return Case("typ_prefix_of_a_name", Reasons.Attestation.TypNotAllowed, f => f.Token(header: h => h["typ"] = "JOS"));
        yield return Case("typ_not_string", Reasons.Attestation.TypNotAllowed, f => f.Token(header: h => h["typ"] = 1));
        yield return Case("kid_missing", Reasons.Attestation.KidMissing, f => f.Token(header: h => h.Remove("kid")));
        yield return Case("kid_empty", Reasons.Attestation.KidMissing, f => f.Token(header: h => h["kid"] = ""));

        // Step 3: subject.
        yield return Case("sub_missing", Reasons.Attestation.SubInvalid, f => f.Token(claims: c => c.Remove("sub")));
        yield return Case("sub_not_string", Reasons.Attestation.SubInvalid, f => f.Token(claims: c => c["sub"] = new[] { Subject }));
        foreach (var (name, id) in InvalidSpiffeIds)
        {
            yield return Case("sub_" + name, Reasons.Attestation.SubInvalid, f => f.Token(subject: id));
        }

        // Step 4: trust domain, bundle, key.
        yield return Case("trust_domain_not_configured", Reasons.Attestation.TrustDomainUnknown,
            f => f.Token(subject: "spiffe://evil.example.org/agents/planner"));
        yield return Case("empty_bundle", Reasons.Attestation.BundleEmpty, f => f.Token(subject: "spiffe://empty.example.org/agents/planner"));
        yield return Case("bundle_with_x509_keys_only", Reasons.Attestation.BundleEmpty,
            f => f.Token(X509Signer, subject: "spiffe://x509only.example.org/agents/planner"));
        yield return Case("unknown_kid", Reasons.Attestation.KidUnknown, f => f.Token(Stranger));
        yield return Case("key_from_other_trust_domain_bundle", Reasons.Attestation.KidUnknown, f => f.Token(OtherKey));
        yield return Case("sub_in_other_domain_than_signing_key", Reasons.Attestation.KidUnknown,
            f => f.Token(Es384, "ES384", subject: "spiffe://other.example.org/agents/planner"));
        yield return Case("sub_in_other_domain_kid_collision", Reasons.Attestation.SignatureInvalid,
            f => f.Token(Es256, subject: "spiffe://other.example.org/agents/planner"));
        yield return Case("key_with_use_x509_svid_only", Reasons.Attestation.KidUnknown, f => f.Token(X509Signer));
        yield return Case("key_without_use", Reasons.Attestation.KidUnknown, f => f.Token(NoUse));
        yield return Case("alg_family_confusion_rs256_on_ec_key", Reasons.Attestation.KeyMismatch,
            f => Sign(Rsa, "RS256", new Dictionary<string, object?> { ["alg"] = "RS256", ["kid"] = Es256.Kid }, f.Claims()));
        yield return Case("curve_confusion_es384_on_p256_key", Reasons.Attestation.KeyMismatch,
            f => Sign(Es384, "ES384", new Dictionary<string, object?> { ["alg"] = "ES384", ["kid"] = Es256.Kid }, f.Claims()));

        // Step 5: signature.
        yield return Case("signature_bit_flip", Reasons.Attestation.SignatureInvalid, f => FlipSignatureBit(f.Token()));
        yield return Case("rsa_signature_bit_flip", Reasons.Attestation.SignatureInvalid, f => FlipSignatureBit(f.Token(Rsa, "PS256")));
        yield return Case("payload_swapped_after_signing", Reasons.Attestation.SignatureInvalid, f => SwapPayload(f.Token(), f.Claims("spiffe://prod.example.org/admin")));
        yield return Case("signature_truncated", Reasons.Attestation.SignatureInvalid, f => f.Token()[..^2]); // 63 bytes, still canonical base64url
        yield return Case("signature_empty", Reasons.Attestation.SignatureInvalid, f => f.Token()[..(f.Token().LastIndexOf('.') + 1)]);
        yield return Case("signed_by_stranger_with_prod_kid", Reasons.Attestation.SignatureInvalid,
            f => Sign(Stranger, "ES256", f.Header(Es256, "ES256"), f.Claims()));

        // Step 6: claims of a correctly signed token.
        yield return Case("missing_exp", Reasons.Attestation.ExpMissing, f => f.Token(claims: c => c.Remove("exp")));
        yield return Case("exp_as_string", Reasons.Attestation.ClaimInvalid, f => f.Token(claims: c => c["exp"] = (f.NowSeconds + 60).ToString()));
        yield return Case("exp_negative", Reasons.Attestation.ClaimInvalid, f => f.Token(claims: c => c["exp"] = -1));
        yield return Case("expired", Reasons.Attestation.Expired, f => f.Token(claims: c => { c["exp"] = f.NowSeconds - 31; c["iat"] = f.NowSeconds - 300; }));
        yield return Case("not_yet_valid_nbf", Reasons.Attestation.NotYetValid, f => f.Token(claims: c => c["nbf"] = f.NowSeconds + 120));
        yield return Case("issued_in_future", Reasons.Attestation.NotYetValid, f => f.Token(claims: c => c["iat"] = f.NowSeconds + 120));
        yield return Case("too_old", Reasons.Attestation.TooOld, f => f.Token(claims: c => c["iat"] = f.NowSeconds - (61 * 60)));
        yield return Case("no_iat_and_long_lived", Reasons.Attestation.TooOld, f => f.Token(claims: c => { c.Remove("iat"); c["exp"] = f.NowSeconds + (3 * 3600); }));
        yield return Case("wrong_audience", Reasons.Attestation.AudienceMismatch, f => f.Token(claims: c => c["aud"] = "spiffe://jitbroker.test/other"));
        yield return Case("audience_case_differs", Reasons.Attestation.AudienceMismatch, f => f.Token(claims: c => c["aud"] = Audience.ToUpperInvariant()));
        yield return Case("missing_audience", Reasons.Attestation.AudienceMissing, f => f.Token(claims: c => c.Remove("aud")));
        yield return Case("empty_audience_array", Reasons.Attestation.AudienceMissing, f => f.Token(claims: c => c["aud"] = Array.Empty<string>()));
        yield return Case("multiple_audiences_without_ours", Reasons.Attestation.AudienceMismatch, f => f.Token(claims: c => c["aud"] = new[] { "a", "b", "c" }));
        yield return Case("audience_not_string", Reasons.Attestation.ClaimInvalid, f => f.Token(claims: c => c["aud"] = 42));
        yield return Case("audience_array_with_number", Reasons.Attestation.ClaimInvalid, f => f.Token(claims: c => c["aud"] = new object[] { Audience, 1 }));
        yield return Case("jti_not_string", Reasons.Attestation.ClaimInvalid, f => f.Token(claims: c => c["jti"] = 12345));
    }

    public static IEnumerable<(string Name, string Id)> InvalidSpiffeIds =>
    [
        ("uppercase_trust_domain", "spiffe://Prod.example.org/agents/planner"),
        ("uppercase_scheme", "SPIFFE://prod.example.org/agents/planner"),
        ("wrong_scheme", "https://prod.example.org/agents/planner"),
        ("port", "spiffe://prod.example.org:443/agents/planner"),
        ("userinfo", "spiffe://admin@prod.example.org/agents/planner"),
        ("empty_segment", "spiffe://prod.example.org/agents//planner"),
        ("dot_segment", "spiffe://prod.example.org/agents/./planner"),
        ("dotdot_segment", "spiffe://prod.example.org/agents/../admin"),
        ("trailing_slash", "spiffe://prod.example.org/agents/planner/"),
        ("query", "spiffe://prod.example.org/agents/planner?admin=1"),
        ("fragment", "spiffe://prod.example.org/agents/planner#x"),
        ("percent_encoded_path", "spiffe://prod.example.org/agents/pl%61nner"),
        ("percent_encoded_trust_domain", "spiffe://prod%2eexample.org/agents/planner"),
        ("too_long", "spiffe://prod.example.org/" + new string('a', 2030)),
        ("empty_trust_domain", "spiffe:///agents/planner"),
        ("bare_trust_domain", "spiffe://prod.example.org"),
        ("non_ascii", "spiffe://prod.example.org/agents/plännér"),
    ];

    [TestCaseSource(nameof(Cases))]
    public void Hostile_token_is_refused_with_exact_reason(Func<SvidFixture, string> build, string reason)
    {
        var token = build(_f);
        var attestor = _f.Attestor();

        var error = Assert.ThrowsAsync<BrokerException>(async () => await attestor.AttestAsync(new AttestationEvidence(token)))!;

        Assert.Multiple(() =>
        {
            Assert.That(error.Reason, Is.EqualTo(reason));
            Assert.That(error.Failure, Is.EqualTo(BrokerFailure.Unauthenticated));
            Assert.That(error.InnerException, Is.Null, "library exceptions stay out of caller-visible errors");
            AssertLeaksNothing(error.Message, token);
        });
    }

    [Test]
    public void Missing_bearer_token_is_refused()
    {
        var error = Assert.ThrowsAsync<BrokerException>(async () => await _f.Attestor().AttestAsync(new AttestationEvidence("")))!;
        Assert.That(error.Reason, Is.EqualTo(Reasons.Attestation.TokenMissing));
        Assert.That(error.Failure, Is.EqualTo(BrokerFailure.Unauthenticated));
    }

    internal static void AssertLeaksNothing(string message, string token)
    {
        Assert.That(message, Does.Not.Contain(token));
        foreach (var segment in token.Split('.').Where(s => s.Length >= 8))
        {
            Assert.That(message, Does.Not.Contain(segment));
        }

        foreach (var material in AllKeys.SelectMany(k => k.PublicMaterial()))
        {
            Assert.That(message, Does.Not.Contain(material[..16]));
        }

        Assert.That(message, Does.Not.Contain("-----BEGIN"));
        Assert.That(message, Does.Not.Contain("Exception"));
    }

    /// <summary>Where <see cref="Spliced"/> puts raw bytes into serialized JSON.</summary>
    internal const string Bad = "@BAD@";

    /// <summary>The UTF-8 JSON of <paramref name="value"/>, with the bytes of the <see cref="Bad"/> marker replaced by <paramref name="raw"/>.</summary>
    internal static byte[] Spliced(object value, byte[] raw)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(value);
        var at = json.AsSpan().IndexOf(Encoding.ASCII.GetBytes(Bad));
        return [.. json[..at], .. raw, .. json[(at + Bad.Length)..]];
    }

    /// <summary>A token signed with <paramref name="key"/> over exactly these header and payload bytes.</summary>
    internal static string SignedBytes(TestKey key, string alg, byte[] header, byte[] payload)
    {
        var input = TestKey.B64(header) + "." + TestKey.B64(payload);
        return input + "." + TestKey.B64(key.Sign(alg, Encoding.ASCII.GetBytes(input)));
    }

    /// <summary>An ES256 token whose header member <paramref name="name"/> carries <paramref name="raw"/> bytes at the marker.</summary>
    private static string EncodedHeader(Dictionary<string, object?> header, string name, string value, byte[] raw, object claims)
    {
        header[name] = value;
        return SignedBytes(Es256, "ES256", Spliced(header, raw), JsonSerializer.SerializeToUtf8Bytes(claims));
    }

    /// <summary>An ES256 token whose claim <paramref name="name"/> carries <paramref name="raw"/> bytes at the marker.</summary>
    private static string EncodedClaim(object header, Dictionary<string, object?> claims, string name, string value, byte[] raw)
    {
        claims[name] = value;
        return SignedBytes(Es256, "ES256", JsonSerializer.SerializeToUtf8Bytes(header), Spliced(claims, raw));
    }

    private static string Raw(object header, string payloadSegment) =>
        TestKey.B64Json(header) + "." + payloadSegment + "." + TestKey.B64(Es256.Sign("ES256", [1, 2, 3]));

    private static string RawText(string headerJson, object? claims, string? claimsJson = null) =>
        TestKey.B64Text(headerJson) + "." + (claimsJson is null ? TestKey.B64Json(claims!) : TestKey.B64Text(claimsJson))
        + "." + TestKey.B64(Es256.Sign("ES256", [1]));

    private static string Hmac(object header, object claims, byte[] secret)
    {
        var input = TestKey.B64Json(header) + "." + TestKey.B64Json(claims);
        return input + "." + TestKey.B64(HMACSHA256.HashData(secret, Encoding.ASCII.GetBytes(input)));
    }

    private static string CorruptPayloadAlphabet(string token)
    {
        var parts = token.Split('.');
        return parts[0] + ".+" + parts[1][1..] + "." + parts[2];
    }

    private static string TweakSpareBits(string token)
    {
        // 64-byte ES256 signature → 86 characters; the last carries 4 unused bits. Setting one changes the
        // text but not the decoded bytes: a lenient decoder would accept this second spelling.
        var last = token[^1];
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        return token[..^1] + alphabet[alphabet.IndexOf(last, StringComparison.Ordinal) | 1];
    }

    private static string FlipSignatureBit(string token)
    {
        var parts = token.Split('.');
        var signature = System.Buffers.Text.Base64Url.DecodeFromChars(parts[2]);
        signature[signature.Length / 2] ^= 0x01;
        return parts[0] + "." + parts[1] + "." + TestKey.B64(signature);
    }

    private static string SwapPayload(string token, object claims)
    {
        var parts = token.Split('.');
        return parts[0] + "." + TestKey.B64Json(claims) + "." + parts[2];
    }
}
