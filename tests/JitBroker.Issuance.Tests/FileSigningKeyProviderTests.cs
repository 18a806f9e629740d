using System.Runtime.Versioning;
using System.Security.Cryptography;
using JitBroker.Core;
using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;

namespace JitBroker.Issuance.Tests;

public sealed class FileSigningKeyProviderTests
{
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private TempDirectory _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TempDirectory();

    [TearDown]
    public void TearDown() => _dir.Dispose();

    private static FileSigningKeyProvider Open(SigningKeyOptions options) =>
        new(options, NullLogger<FileSigningKeyProvider>.Instance);

    private FileSigningKeyProvider OpenGenerated() => Open(new SigningKeyOptions { DataDirectory = _dir.File("data") });

    private static void RequireUnix() => Assume.That(OperatingSystem.IsWindows(), Is.False, "Unix file modes only");

    [Test]
    [UnsupportedOSPlatform("windows")]
    public void First_start_generates_a_p256_key_file_with_mode_0600()
    {
        RequireUnix();
        using var provider = OpenGenerated();
        var path = Path.Combine(_dir.File("data"), SigningKeyOptions.GeneratedKeyFileName);

        using var fromFile = ECDsa.Create();
        fromFile.ImportFromPem(File.ReadAllText(path));
        Assert.Multiple(() =>
        {
            Assert.That(File.GetUnixFileMode(path), Is.EqualTo(OwnerReadWrite));
            Assert.That(File.ReadAllText(path), Does.StartWith("-----BEGIN PRIVATE KEY-----"));
            Assert.That(fromFile.KeySize, Is.EqualTo(256));
            Assert.That(provider.Current.CanSign, Is.True);
            Assert.That(provider.VerificationKeys, Is.EqualTo(new[] { provider.Current }));
            Assert.That(Directory.GetFiles(_dir.File("data")), Is.EqualTo(new[] { path }), "no temp file left behind");
        });
    }

    [Test]
    public void A_restart_reuses_the_generated_key()
    {
        string firstKid;
        using (var first = OpenGenerated())
        {
            firstKid = first.Current.KeyId;
        }

        using var second = OpenGenerated();
        Assert.That(second.Current.KeyId, Is.EqualTo(firstKid));
    }

    [UnsupportedOSPlatform("windows")]
    [TestCase(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, TestName = "group readable 0640")]
    [TestCase(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead, TestName = "world readable 0604")]
    [TestCase(UnixFileMode.UserRead | UnixFileMode.GroupWrite, TestName = "group writable 0420")]
    public void A_key_file_accessible_to_group_or_other_is_refused(UnixFileMode mode)
    {
        RequireUnix();
        var configured = _dir.Write("configured.pem", ECDsa.Create(ECCurve.NamedCurves.nistP256).ExportPkcs8PrivateKeyPem(), mode);
        string generatedPath;
        using (OpenGenerated())
        {
            generatedPath = Path.Combine(_dir.File("data"), SigningKeyOptions.GeneratedKeyFileName);
        }

        File.SetUnixFileMode(generatedPath, mode);

        var configuredError = Assert.Throws<BrokerException>(() => Open(new SigningKeyOptions { PrivateKeyPemPath = configured }));
        var generatedError = Assert.Throws<BrokerException>(() => OpenGenerated());
        Assert.Multiple(() =>
        {
            Assert.That(configuredError!.Reason, Is.EqualTo(Reasons.Issuance.SigningKeyInsecurePermissions));
            Assert.That(configuredError.Message, Does.Contain("chmod 600"));
            Assert.That(generatedError!.Reason, Is.EqualTo(Reasons.Issuance.SigningKeyInsecurePermissions));
        });
    }

    [Test]
    public void A_configured_pkcs8_key_is_loaded_and_nothing_is_generated()
    {
        using var source = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var path = _dir.Write("key.pem", source.ExportPkcs8PrivateKeyPem());

        using var provider = Open(new SigningKeyOptions { PrivateKeyPemPath = path, DataDirectory = _dir.File("data") });

        Assert.Multiple(() =>
        {
            Assert.That(provider.Current.KeyId, Is.EqualTo(Thumbprints.Rfc7638(source)));
            Assert.That(Directory.Exists(_dir.File("data")), Is.False, "no key generated when one is configured");
        });
    }

    [Test]
    [UnsupportedOSPlatform("windows")]
    public void A_symlinked_key_is_judged_by_the_mode_of_its_target()
    {
        // Kubernetes mounts Secret files as symlinks (mode 0777 on the link itself).
        RequireUnix();
        using var source = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var target = _dir.Write("target.pem", source.ExportPkcs8PrivateKeyPem(), UnixFileMode.UserRead);
        var link = _dir.File("link.pem");
        File.CreateSymbolicLink(link, target);

        using var provider = Open(new SigningKeyOptions { PrivateKeyPemPath = link });
        File.SetUnixFileMode(target, UnixFileMode.UserRead | UnixFileMode.OtherRead);

        Assert.Multiple(() =>
        {
            Assert.That(provider.Current.KeyId, Is.EqualTo(Thumbprints.Rfc7638(source)));
            Assert.That(() => Open(new SigningKeyOptions { PrivateKeyPemPath = link }), Throws.InstanceOf<BrokerException>()
                .With.Property(nameof(BrokerException.Reason)).EqualTo(Reasons.Issuance.SigningKeyInsecurePermissions));
        });
    }

    [Test]
    public void A_configured_sec1_key_is_loaded_and_signs_verifiably()
    {
        using var source = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var pem = source.ExportECPrivateKeyPem();
        Assert.That(pem, Does.StartWith("-----BEGIN EC PRIVATE KEY-----"));

        using var provider = Open(new SigningKeyOptions { PrivateKeyPemPath = _dir.Write("key.pem", pem) });
        var data = "payload"u8.ToArray();

        Assert.Multiple(() =>
        {
            Assert.That(provider.Current.KeyId, Is.EqualTo(Thumbprints.Rfc7638(source)));
            Assert.That(source.VerifyData(data, provider.Current.Sign(data), HashAlgorithmName.SHA256), Is.True);
        });
    }

    private static IEnumerable<TestCaseData> UnsupportedKeys()
    {
        yield return new TestCaseData((Func<string>)(() => RSA.Create(2048).ExportPkcs8PrivateKeyPem()), Reasons.Issuance.SigningKeyUnsupported)
            .SetName("RSA PKCS#8");
        // An RSA key is recognised whatever its PEM label, so the refusal says what it is and what ES256 needs.
        yield return new TestCaseData((Func<string>)(() => RSA.Create(2048).ExportRSAPrivateKeyPem()), Reasons.Issuance.SigningKeyUnsupported)
            .SetName("RSA PKCS#1");
        yield return new TestCaseData((Func<string>)(() => ECDsa.Create(ECCurve.NamedCurves.nistP384).ExportPkcs8PrivateKeyPem()), Reasons.Issuance.SigningKeyUnsupported)
            .SetName("P-384 PKCS#8");
        yield return new TestCaseData((Func<string>)(() => ECDsa.Create(ECCurve.NamedCurves.nistP384).ExportECPrivateKeyPem()), Reasons.Issuance.SigningKeyUnsupported)
            .SetName("P-384 SEC1");
        yield return new TestCaseData((Func<string>)(() => ECDsa.Create(ECCurve.NamedCurves.nistP256).ExportSubjectPublicKeyInfoPem()), Reasons.Issuance.SigningKeyUnreadable)
            .SetName("public key where a private key is needed");
        yield return new TestCaseData((Func<string>)(() => ECDsa.Create(ECCurve.NamedCurves.nistP256).ExportEncryptedPkcs8PrivateKeyPem("pw",
                new PbeParameters(PbeEncryptionAlgorithm.Aes128Cbc, HashAlgorithmName.SHA256, 1000))), Reasons.Issuance.SigningKeyUnreadable)
            .SetName("encrypted PKCS#8");
        yield return new TestCaseData((Func<string>)(() => "not a pem"), Reasons.Issuance.SigningKeyUnreadable).SetName("not a PEM");
    }

    [TestCaseSource(nameof(UnsupportedKeys))]
    public void Keys_other_than_p256_private_keys_are_refused(Func<string> pem, string reason)
    {
        var path = _dir.Write("key.pem", pem());

        var error = Assert.Throws<BrokerException>(() => Open(new SigningKeyOptions { PrivateKeyPemPath = path }));

        Assert.Multiple(() =>
        {
            Assert.That(error!.Reason, Is.EqualTo(reason));
            Assert.That(error.Message, Does.Not.Contain("PRIVATE KEY-----"));
        });
    }

    [Test]
    public void A_missing_configured_key_is_an_unreadable_key_not_a_new_one()
    {
        var error = Assert.Throws<BrokerException>(() =>
            Open(new SigningKeyOptions { PrivateKeyPemPath = _dir.File("missing.pem"), DataDirectory = _dir.File("data") }));

        Assert.Multiple(() =>
        {
            Assert.That(error!.Reason, Is.EqualTo(Reasons.Issuance.SigningKeyUnreadable));
            Assert.That(Directory.Exists(_dir.File("data")), Is.False);
        });
    }

    [Test]
    public async Task Previous_public_keys_are_published_and_still_verify_their_tokens()
    {
        // Before rotation: key A signs.
        using var oldKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var oldPath = _dir.Write("old.pem", oldKey.ExportPkcs8PrivateKeyPem());
        string oldToken;
        using (var before = Open(new SigningKeyOptions { PrivateKeyPemPath = oldPath }))
        {
            oldToken = (await TestData.NewIssuer(before).IssueAsync(TestData.Request())).Secret;
        }

        // After rotation: key B signs, A's public key is still published.
        using var newKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var after = Open(new SigningKeyOptions
        {
            PrivateKeyPemPath = _dir.Write("new.pem", newKey.ExportPkcs8PrivateKeyPem()),
            PreviousPublicKeyPemPaths = [_dir.Write("old.pub.pem", oldKey.ExportSubjectPublicKeyInfoPem(), UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead)],
        });
        var issuer = TestData.NewIssuer(after);
        var newToken = (await issuer.IssueAsync(TestData.Request())).Secret;
        var jwks = System.Text.Json.Nodes.JsonNode.Parse(JwksDocument.Build(after))!["keys"]!.AsArray();

        Assert.Multiple(() =>
        {
            Assert.That(jwks.Select(k => (string?)k!["kid"]), Is.EqualTo(new[] { Thumbprints.Rfc7638(newKey), Thumbprints.Rfc7638(oldKey) }));
            Assert.That(after.VerificationKeys[1].CanSign, Is.False);
            Assert.That(issuer.Verify(oldToken), Is.Not.Null, "token of the previous key");
            Assert.That(issuer.Verify(newToken), Is.Not.Null, "token of the current key");
            Assert.That(TestData.DecodeSegment(TestData.Segments(newToken)[0])["kid"]!.GetValue<string>(), Is.EqualTo(Thumbprints.Rfc7638(newKey)));
        });
    }

    [Test]
    public void A_previous_key_file_that_is_not_a_public_key_is_refused()
    {
        var error = Assert.Throws<BrokerException>(() => Open(new SigningKeyOptions
        {
            DataDirectory = _dir.File("data"),
            PreviousPublicKeyPemPaths = [_dir.Write("old.pem", ECDsa.Create(ECCurve.NamedCurves.nistP256).ExportPkcs8PrivateKeyPem())],
        }));

        Assert.That(error!.Reason, Is.EqualTo(Reasons.Issuance.SigningKeyUnreadable));
    }

    [Test]
    public void A_previous_key_equal_to_the_current_one_is_published_once()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var provider = Open(new SigningKeyOptions
        {
            PrivateKeyPemPath = _dir.Write("key.pem", key.ExportPkcs8PrivateKeyPem()),
            PreviousPublicKeyPemPaths = [_dir.Write("key.pub.pem", key.ExportSubjectPublicKeyInfoPem())],
        });

        Assert.That(provider.VerificationKeys, Has.Count.EqualTo(1));
    }

    [Test]
    public void Options_without_any_key_source_are_refused()
    {
        var options = new SigningKeyOptions();
        var error = Assert.Throws<BrokerException>(() => Open(options));

        Assert.Multiple(() =>
        {
            Assert.That(options.Validate(), Is.Not.Empty);
            Assert.That(error!.Reason, Is.EqualTo(Reasons.Issuance.SigningKeyOptionsInvalid));
            Assert.That(new SigningKeyOptions { DataDirectory = "/x", PreviousPublicKeyPemPaths = [" "] }.Validate(), Is.Not.Empty);
            Assert.That(new SigningKeyOptions { PrivateKeyPemPath = "/k.pem" }.Validate(), Is.Empty);
        });
    }
}
