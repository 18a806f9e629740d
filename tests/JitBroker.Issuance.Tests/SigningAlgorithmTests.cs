using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using JitBroker.Core;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using NUnit.Framework;

namespace JitBroker.Issuance.Tests;

/// <summary>
/// ES256, RS256 and PS256 task JWTs (RFC 7518 §3.3–3.5, RFC 9068 §2.1): each round-trips, a stock verifier accepts it
/// against the JWKS, and a token is only ever verified with its key's own algorithm (RFC 8725 §3.1).
/// </summary>
public sealed class SigningAlgorithmTests
{
    // One RSA key for the fixture (2048 bits keeps it quick); RS256 and PS256 keys over the same material for the confusion tests.
    private static readonly Lazy<string> RsaPem = new(() =>
    {
        using var rsa = RSA.Create(2048);
        return rsa.ExportPkcs8PrivateKeyPem();
    });

    private static SigningKey Key(string algorithm) =>
        algorithm == SigningAlgorithms.Es256 ? SigningKey.Generate() : SigningKey.FromPrivateKeyPem(RsaPem.Value, algorithm);

    private static string HeaderOf(string token) => Encoding.UTF8.GetString(Base64Url.DecodeFromChars(TestData.Segments(token)[0]));

    private static string PayloadOf(string token) => Encoding.UTF8.GetString(Base64Url.DecodeFromChars(TestData.Segments(token)[1]));

    [TestCase(SigningAlgorithms.Es256, 64)]
    [TestCase(SigningAlgorithms.Rs256, 256)]
    [TestCase(SigningAlgorithms.Ps256, 256)]
    public async Task A_token_round_trips_with_its_keys_algorithm_and_signature_size(string algorithm, int signatureBytes)
    {
        using var keys = new StaticSigningKeyProvider(Key(algorithm));
        var issuer = TestData.NewIssuer(keys);
        var request = TestData.Request();

        var token = (await issuer.IssueAsync(request)).Secret;
        var claims = issuer.Verify(token);

        Assert.Multiple(() =>
        {
            Assert.That(HeaderOf(token), Is.EqualTo($"{{\"alg\":\"{algorithm}\",\"typ\":\"at+jwt\",\"kid\":\"{keys.Current.KeyId}\"}}"));
            Assert.That(Base64Url.DecodeFromChars(TestData.Segments(token)[2]), Has.Length.EqualTo(signatureBytes));
            Assert.That(claims?.LeaseId, Is.EqualTo(request.LeaseId));
            Assert.That(claims?.Scope.Resources, Is.EqualTo(TestData.Scope.Resources));
        });
    }

    [TestCase(SigningAlgorithms.Es256, SecurityAlgorithms.EcdsaSha256)]
    [TestCase(SigningAlgorithms.Rs256, SecurityAlgorithms.RsaSha256)]
    [TestCase(SigningAlgorithms.Ps256, SecurityAlgorithms.RsaSsaPssSha256)]
    public async Task IdentityModel_validates_the_token_against_the_published_jwks(string algorithm, string identityModelAlgorithm)
    {
        using var keys = new StaticSigningKeyProvider(Key(algorithm));
        // IdentityModel checks lifetimes against the real clock.
        var token = (await TestData.NewIssuer(keys, new FakeTimeProvider(DateTimeOffset.UtcNow)).IssueAsync(TestData.Request())).Secret;

        var result = await new JsonWebTokenHandler().ValidateTokenAsync(token, new TokenValidationParameters
        {
            ValidIssuer = TestData.Issuer,
            ValidAudience = TestData.Scope.Audience,
            IssuerSigningKeys = new JsonWebKeySet(JwksDocument.Build(keys)).GetSigningKeys(),
            ValidTypes = ["at+jwt"],
            ValidAlgorithms = [identityModelAlgorithm],
            RequireSignedTokens = true,
            RequireExpirationTime = true,
        });

        Assert.That(result.IsValid, Is.True, () => result.Exception?.ToString() ?? "");
        Assert.That(((JsonWebToken)result.SecurityToken).Alg, Is.EqualTo(algorithm));
    }

    [TestCase(SigningAlgorithms.Rs256)]
    [TestCase(SigningAlgorithms.Ps256)]
    public void An_rsa_jwk_publishes_kty_n_e_use_alg_and_its_kid_is_the_rfc7638_thumbprint(string algorithm)
    {
        using var rsa = RSA.Create();
        rsa.ImportFromPem(RsaPem.Value);
        var p = rsa.ExportParameters(false);
        using var keys = new StaticSigningKeyProvider(SigningKey.FromPrivateKeyPem(RsaPem.Value, algorithm));

        var jwk = JsonNode.Parse(JwksDocument.Build(keys))!["keys"]![0]!.AsObject();

        var expectedKid = Thumbprints.OfRequiredMembers(("e", Base64Url.EncodeToString(p.Exponent!)), ("kty", "RSA"), ("n", Base64Url.EncodeToString(p.Modulus!)));
        Assert.Multiple(() =>
        {
            Assert.That(jwk.Select(m => m.Key), Is.EquivalentTo(new[] { "kty", "n", "e", "kid", "use", "alg" }), "public members only: no d, p, q, dp, dq, qi");
            Assert.That((string?)jwk["kty"], Is.EqualTo("RSA"));
            Assert.That((string?)jwk["n"], Is.EqualTo(Base64Url.EncodeToString(p.Modulus!)));
            Assert.That((string?)jwk["e"], Is.EqualTo("AQAB"));
            Assert.That((string?)jwk["use"], Is.EqualTo("sig"));
            Assert.That((string?)jwk["alg"], Is.EqualTo(algorithm));
            Assert.That((string?)jwk["kid"], Is.EqualTo(expectedKid));
            Assert.That(keys.Current.KeyId, Is.EqualTo(expectedKid));
        });
    }

    [TestCase(SigningAlgorithms.Rs256)]
    [TestCase(SigningAlgorithms.Ps256)]
    public void A_generated_rsa_key_has_3072_bits(string algorithm)
    {
        using var key = SigningKey.Generate(algorithm);

        Assert.That(key.Algorithm, Is.EqualTo(algorithm));
        Assert.That(key.SignatureSize, Is.EqualTo(384));
        Assert.That(key.Verify("x"u8, key.Sign("x"u8)), Is.True);
    }

    [TestCase(SigningAlgorithms.Rs256, SigningAlgorithms.Ps256)]
    [TestCase(SigningAlgorithms.Ps256, SigningAlgorithms.Rs256)]
    public async Task A_token_of_one_rsa_algorithm_is_refused_by_the_same_key_configured_for_the_other(string signedWith, string verifiedAs)
    {
        using var signer = new StaticSigningKeyProvider(Key(signedWith));
        using var verifier = new StaticSigningKeyProvider(Key(verifiedAs));
        Assert.That(verifier.Current.KeyId, Is.EqualTo(signer.Current.KeyId), "the same key material: only the algorithm differs");
        var token = (await TestData.NewIssuer(signer).IssueAsync(TestData.Request())).Secret;
        var relabelled = TestData.Encode(HeaderOf(token).Replace(signedWith, verifiedAs, StringComparison.Ordinal)) + token[token.IndexOf('.', StringComparison.Ordinal)..];

        Assert.Multiple(() =>
        {
            Assert.That(TestData.NewIssuer(verifier).Verify(token), Is.Null, "header names the other algorithm than the key's");
            Assert.That(TestData.NewIssuer(verifier).Verify(relabelled), Is.Null, "header relabelled: the signature is not one of the key's algorithm");
            Assert.That(TestData.NewIssuer(signer).Verify(relabelled), Is.Null, "header relabelled: no longer the key's algorithm");
            Assert.That(TestData.NewIssuer(signer).Verify(token), Is.Not.Null);
        });
    }

    [TestCase(SigningAlgorithms.Es256, SigningAlgorithms.Rs256)]
    [TestCase(SigningAlgorithms.Rs256, SigningAlgorithms.Ps256)]
    [TestCase(SigningAlgorithms.Ps256, SigningAlgorithms.Rs256)]
    [TestCase(SigningAlgorithms.Rs256, "RS512")]
    public async Task A_header_naming_another_algorithm_is_refused_even_over_a_signature_the_key_made(string algorithm, string claimed)
    {
        using var keys = new StaticSigningKeyProvider(Key(algorithm));
        var issuer = TestData.NewIssuer(keys);
        var token = (await issuer.IssueAsync(TestData.Request())).Secret;

        // Signed by the key itself in its own algorithm: only the header lies.
        var forged = TestData.Forge(keys.Current, HeaderOf(token).Replace($"\"{algorithm}\"", $"\"{claimed}\"", StringComparison.Ordinal), PayloadOf(token));

        Assert.That(issuer.Verify(forged), Is.Null);
    }

    [TestCase(SigningAlgorithms.Es256)]
    [TestCase(SigningAlgorithms.Rs256)]
    [TestCase(SigningAlgorithms.Ps256)]
    public async Task An_hs256_token_keyed_with_the_public_key_is_refused(string algorithm)
    {
        using var keys = new StaticSigningKeyProvider(Key(algorithm));
        var issuer = TestData.NewIssuer(keys);
        var token = (await issuer.IssueAsync(TestData.Request())).Secret;
        var signingInput = TestData.Encode($"{{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"{keys.Current.KeyId}\"}}") + "." + TestData.Segments(token)[1];

        // The classic confusion: the attacker MACs with what is public — the JWK text, or the key's PEM.
        var jwkText = JwksDocument.Build(keys);
        foreach (var secret in new[] { Encoding.UTF8.GetBytes(jwkText), Encoding.UTF8.GetBytes(keys.Current.ToPublicJwk().ToJsonString()) })
        {
            var mac = HMACSHA256.HashData(secret, Encoding.ASCII.GetBytes(signingInput));
            Assert.That(issuer.Verify(signingInput + "." + Base64Url.EncodeToString(mac)), Is.Null);
        }
    }

    [TestCase(SigningAlgorithms.Es256)]
    [TestCase(SigningAlgorithms.Rs256)]
    [TestCase(SigningAlgorithms.Ps256)]
    public async Task An_alg_none_token_is_refused_with_or_without_a_signature(string algorithm)
    {
        using var keys = new StaticSigningKeyProvider(Key(algorithm));
        var issuer = TestData.NewIssuer(keys);
        var token = (await issuer.IssueAsync(TestData.Request())).Secret;
        var parts = TestData.Segments(token);
        var none = TestData.Encode($"{{\"alg\":\"none\",\"typ\":\"at+jwt\",\"kid\":\"{keys.Current.KeyId}\"}}");

        Assert.Multiple(() =>
        {
            Assert.That(issuer.Verify($"{none}.{parts[1]}."), Is.Null);
            Assert.That(issuer.Verify($"{none}.{parts[1]}.{parts[2]}"), Is.Null);
            Assert.That(issuer.Verify($"{none}.{parts[1]}"), Is.Null);
        });
    }

    [TestCase(SigningAlgorithms.Rs256)]
    [TestCase(SigningAlgorithms.Ps256)]
    public async Task A_signature_of_the_wrong_size_for_the_key_is_refused(string algorithm)
    {
        using var keys = new StaticSigningKeyProvider(Key(algorithm));
        var issuer = TestData.NewIssuer(keys);
        var token = (await issuer.IssueAsync(TestData.Request())).Secret;
        var signature = Base64Url.DecodeFromChars(TestData.Segments(token)[2]);
        var input = token[..token.LastIndexOf('.')];

        Assert.Multiple(() =>
        {
            Assert.That(issuer.Verify(input + "." + Base64Url.EncodeToString(signature.AsSpan(1))), Is.Null, "one byte short");
            Assert.That(issuer.Verify(input + "." + Base64Url.EncodeToString([0, .. signature])), Is.Null, "a leading zero added");
            Assert.That(issuer.Verify(input + "." + Base64Url.EncodeToString(new byte[64])), Is.Null, "an ES256-sized signature");
        });
    }

    [Test]
    public void An_rsa_key_under_2048_bits_is_refused()
    {
        using var small = RSA.Create(1024);

        var e = Assert.Throws<BrokerException>(() => SigningKey.FromPrivateKeyPem(small.ExportPkcs8PrivateKeyPem(), SigningAlgorithms.Rs256));

        Assert.That(e!.Reason, Is.EqualTo(Reasons.Issuance.SigningKeyUnsupported));
        Assert.That(e.Message, Does.Contain("1024 bits").And.Contain("2048"));
    }

    [TestCase("HS256")]
    [TestCase("none")]
    [TestCase("rs256")]
    [TestCase("")]
    public void An_unknown_algorithm_is_refused_by_the_key_and_the_options(string algorithm)
    {
        Assert.Throws<ArgumentException>(() => SigningKey.Generate(algorithm).Dispose());
        Assert.That(new SigningKeyOptions { DataDirectory = "/tmp/x", Algorithm = algorithm }.Validate(),
            Has.One.EqualTo($"JitBroker:SigningKey:Algorithm '{algorithm}' is not supported; use one of ES256, RS256, PS256 (case-sensitive)."));
    }

    [TestCase(SigningAlgorithms.Rs256)]
    [TestCase(SigningAlgorithms.Ps256)]
    public void Delegation_offers_are_signed_with_the_keys_algorithm_and_refused_under_another(string algorithm)
    {
        using var keys = new StaticSigningKeyProvider(Key(algorithm));
        var codec = new DelegationOfferCodec(keys);
        var offer = new DelegationOffer("dof_1", "lease_abc", "spiffe://corp/p", "spiffe://corp/w", ["zendesk"], ["tickets/1"],
            TimeSpan.FromMinutes(3), DateTimeOffset.FromUnixTimeSeconds(2_000_000_000));
        var token = codec.Encode(offer);
        var other = algorithm == SigningAlgorithms.Rs256 ? SigningAlgorithms.Ps256 : SigningAlgorithms.Rs256;
        using var otherAlgorithm = new StaticSigningKeyProvider(Key(other));
        var relabelled = TestData.Forge(keys.Current, HeaderOf(token).Replace(algorithm, other, StringComparison.Ordinal), PayloadOf(token));

        Assert.Multiple(() =>
        {
            Assert.That(HeaderOf(token), Does.Contain($"\"alg\":\"{algorithm}\""));
            Assert.That(codec.Decode(token)?.OfferId, Is.EqualTo("dof_1"));
            Assert.That(new DelegationOfferCodec(otherAlgorithm).Decode(token), Is.Null, "same key, other algorithm");
            Assert.That(codec.Decode(relabelled), Is.Null, "header names another algorithm than the key's");
        });
    }
}
