using System.Security.Cryptography;
using JitBroker.Core;
using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;

namespace JitBroker.Issuance.Tests;

/// <summary>
/// Key files follow <c>JitBroker:SigningKey:Algorithm</c>: a generated key is made for it, and a key of the wrong type —
/// configured, or generated earlier for another algorithm — stops the start with a message naming the file and both types.
/// </summary>
public sealed class FileSigningKeyAlgorithmTests
{
    private TempDirectory _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TempDirectory();

    [TearDown]
    public void TearDown() => _dir.Dispose();

    private static FileSigningKeyProvider Open(SigningKeyOptions options) => new(options, NullLogger<FileSigningKeyProvider>.Instance);

    private FileSigningKeyProvider OpenGenerated(string algorithm) =>
        Open(new SigningKeyOptions { DataDirectory = _dir.File("data"), Algorithm = algorithm });

    private FileSigningKeyProvider OpenConfigured(string pem, string algorithm, params List<string> previous) =>
        Open(new SigningKeyOptions { DataDirectory = _dir.File("data"), PrivateKeyPemPath = _dir.Write("key.pem", pem), Algorithm = algorithm, PreviousPublicKeyPemPaths = previous });

    private static string RsaPem(int bits = 2048, bool pkcs1 = false)
    {
        using var rsa = RSA.Create(bits);
        return pkcs1 ? rsa.ExportRSAPrivateKeyPem() : rsa.ExportPkcs8PrivateKeyPem();
    }

    private static string EcPem()
    {
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return ec.ExportPkcs8PrivateKeyPem();
    }

    [TestCase(SigningAlgorithms.Rs256)]
    [TestCase(SigningAlgorithms.Ps256)]
    public void A_generated_key_for_an_rsa_algorithm_is_rsa_3072_and_reused_on_restart(string algorithm)
    {
        string firstKid;
        using (var first = OpenGenerated(algorithm))
        {
            firstKid = first.Current.KeyId;
            Assert.That(first.Current.Algorithm, Is.EqualTo(algorithm));
        }

        using var second = OpenGenerated(algorithm);
        using var fromFile = RSA.Create();
        fromFile.ImportFromPem(File.ReadAllText(Path.Combine(_dir.File("data"), SigningKeyOptions.GeneratedKeyFileName)));
        Assert.Multiple(() =>
        {
            Assert.That(fromFile.KeySize, Is.EqualTo(3072));
            Assert.That(second.Current.KeyId, Is.EqualTo(firstKid));
            Assert.That(second.Current.Algorithm, Is.EqualTo(algorithm));
        });
    }

    [Test]
    public void A_key_generated_for_es256_stops_a_restart_configured_for_ps256_and_is_left_in_place()
    {
        OpenGenerated(SigningAlgorithms.Es256).Dispose();

        var path = Path.Combine(_dir.File("data"), SigningKeyOptions.GeneratedKeyFileName);
        var before = File.ReadAllText(path);

        var e = Assert.Throws<BrokerException>(() => OpenGenerated(SigningAlgorithms.Ps256));

        Assert.Multiple(() =>
        {
            Assert.That(e!.Reason, Is.EqualTo(Reasons.Issuance.SigningKeyUnsupported));
            Assert.That(e.Message, Does.Contain(path).And.Contain("PS256").And.Contain("an EC key").And.Contain("move the file away"));
            Assert.That(File.ReadAllText(path), Is.EqualTo(before), "never replaced behind the operator's back");
        });
    }

    [TestCase(SigningAlgorithms.Rs256)]
    [TestCase(SigningAlgorithms.Ps256)]
    public void A_configured_ec_key_is_refused_for_an_rsa_algorithm(string algorithm)
    {
        var e = Assert.Throws<BrokerException>(() => OpenConfigured(EcPem(), algorithm));

        Assert.That(e!.Reason, Is.EqualTo(Reasons.Issuance.SigningKeyUnsupported));
        Assert.That(e.Message, Does.Contain(_dir.File("key.pem")).And.Contain("an EC key").And.Contain($"{algorithm} needs an RSA key"));
    }

    [TestCase(false, TestName = "A configured PKCS#8 RSA key is refused for ES256")]
    [TestCase(true, TestName = "A configured PKCS#1 RSA key is refused for ES256")]
    public void A_configured_rsa_key_is_refused_for_es256(bool pkcs1)
    {
        var e = Assert.Throws<BrokerException>(() => OpenConfigured(RsaPem(pkcs1: pkcs1), SigningAlgorithms.Es256));

        Assert.That(e!.Reason, Is.EqualTo(Reasons.Issuance.SigningKeyUnsupported));
        Assert.That(e.Message, Does.Contain("an RSA key").And.Contain("ES256 needs an EC P-256 key"));
    }

    [Test]
    public void A_configured_pkcs1_rsa_key_loads_for_ps256()
    {
        using var provider = OpenConfigured(RsaPem(pkcs1: true), SigningAlgorithms.Ps256);

        Assert.That(provider.Current.Algorithm, Is.EqualTo(SigningAlgorithms.Ps256));
        Assert.That(provider.Current.CanSign, Is.True);
    }

    [Test]
    public void An_unknown_algorithm_stops_the_provider_with_the_allowed_values()
    {
        var e = Assert.Throws<BrokerException>(() => OpenGenerated("RS384"));

        Assert.That(e!.Reason, Is.EqualTo(Reasons.Issuance.SigningKeyOptionsInvalid));
        Assert.That(e.Message, Does.Contain("ES256, RS256, PS256"));
        Assert.That(Directory.Exists(_dir.File("data")), Is.False, "nothing generated");
    }

    [Test]
    public async Task Switching_from_es256_to_rs256_keeps_the_previous_ec_keys_tokens_verifying_as_es256_only()
    {
        using var old = new StaticSigningKeyProvider(SigningKey.Generate());
        var oldToken = (await TestData.NewIssuer(old).IssueAsync(TestData.Request())).Secret;
        var previous = _dir.Write("previous-0.pem", EcPemOf(old));

        using var provider = OpenConfigured(RsaPem(), SigningAlgorithms.Rs256, previous);
        var issuer = TestData.NewIssuer(provider);
        var newToken = (await issuer.IssueAsync(TestData.Request())).Secret;

        Assert.Multiple(() =>
        {
            Assert.That(provider.VerificationKeys.Select(k => k.Algorithm), Is.EqualTo(new[] { SigningAlgorithms.Rs256, SigningAlgorithms.Es256 }));
            Assert.That(issuer.Verify(oldToken), Is.Not.Null, "the old key's token verifies with the old key's algorithm");
            Assert.That(issuer.Verify(newToken), Is.Not.Null);
        });
    }

    [Test]
    public void A_previous_rsa_key_takes_the_configured_rsa_algorithm()
    {
        using var previousKey = RSA.Create(2048);
        var previous = _dir.Write("previous-0.pem", previousKey.ExportSubjectPublicKeyInfoPem());

        using var provider = OpenConfigured(RsaPem(), SigningAlgorithms.Ps256, previous);

        Assert.That(provider.VerificationKeys[1].Algorithm, Is.EqualTo(SigningAlgorithms.Ps256));
        Assert.That(provider.VerificationKeys[1].CanSign, Is.False);
    }

    // The public half of a generated ES256 key, rebuilt from its JWK (the key never exports its private part).
    private static string EcPemOf(StaticSigningKeyProvider keys)
    {
        var jwk = keys.Current.ToPublicJwk();
        using var ec = ECDsa.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint
            {
                X = System.Buffers.Text.Base64Url.DecodeFromChars((string)jwk["x"]!),
                Y = System.Buffers.Text.Base64Url.DecodeFromChars((string)jwk["y"]!),
            },
        });
        return ec.ExportSubjectPublicKeyInfoPem();
    }
}
