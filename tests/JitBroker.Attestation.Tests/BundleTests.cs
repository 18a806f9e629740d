using System.Security.Cryptography;
using JitBroker.Core;
using Microsoft.Extensions.Logging;
using Moq;
using NUnit.Framework;
using static JitBroker.Attestation.Tests.SvidFixture;

namespace JitBroker.Attestation.Tests;

[TestFixture]
public sealed class BundleTests
{
    private SvidFixture _f = null!;

    [SetUp]
    public void SetUp() => _f = new SvidFixture();

    [TearDown]
    public void TearDown() => _f.Dispose();

    [Test]
    public async Task Key_rotated_out_of_the_bundle_file_is_rejected_after_the_next_check()
    {
        var attestor = _f.Attestor();
        var oldToken = _f.Token(Es256);
        var rotated = TestKey.Ec("prod-es256-v2", ECCurve.NamedCurves.nistP256);
        Assert.That((await attestor.AttestAsync(new AttestationEvidence(oldToken))).Id, Is.EqualTo(Subject));

        _f.WriteBundle(Prod, [rotated.Jwk()]);
        _f.Time.Advance(TimeSpan.FromSeconds(4));
        Assert.That((await attestor.AttestAsync(new AttestationEvidence(oldToken))).Id, Is.EqualTo(Subject),
            "the file is checked at most every 5 s");

        _f.Time.Advance(TimeSpan.FromSeconds(1));
        var error = Assert.ThrowsAsync<BrokerException>(async () => await attestor.AttestAsync(new AttestationEvidence(oldToken)))!;
        Assert.That(error.Reason, Is.EqualTo(Reasons.Attestation.KidUnknown));
        Assert.That((await attestor.AttestAsync(new AttestationEvidence(_f.Token(rotated)))).Id, Is.EqualTo(Subject));
    }

    [Test]
    public async Task Bundle_emptied_on_disk_refuses_every_svid_of_its_trust_domain()
    {
        var attestor = _f.Attestor();
        _f.WriteBundle(Prod, []);
        _f.Time.Advance(TimeSpan.FromSeconds(5));

        var error = Assert.ThrowsAsync<BrokerException>(async () => await attestor.AttestAsync(new AttestationEvidence(_f.Token())))!;
        Assert.That(error.Reason, Is.EqualTo(Reasons.Attestation.BundleEmpty));
        Assert.That((await attestor.AttestAsync(new AttestationEvidence(_f.Token(OtherKey, subject: "spiffe://other.example.org/x")))).TrustDomain,
            Is.EqualTo(Other), "other trust domains are unaffected");
    }

    [Test]
    public async Task Broken_bundle_on_reload_keeps_the_old_keys_and_warns()
    {
        var log = new Mock<ILogger<JwtSvidAttestor>>();
        log.Setup(l => l.IsEnabled(It.IsAny<LogLevel>())).Returns(true);
        var attestor = _f.Attestor(log: log.Object);

        _f.WriteBundle(Prod, [], rawJson: "{\"keys\": [ {\"kty\": ");
        _f.Time.Advance(TimeSpan.FromSeconds(5));

        Assert.That((await attestor.AttestAsync(new AttestationEvidence(_f.Token()))).Id, Is.EqualTo(Subject));
        log.Verify(l => l.Log(LogLevel.Warning, It.Is<EventId>(e => e.Id == 2002 && e.Name == "TrustBundleReloadFailed"),
            It.IsAny<It.IsAnyType>(), It.IsAny<Exception?>(), It.IsAny<Func<It.IsAnyType, Exception?, string>>()), Times.Once);
    }

    [Test]
    public void Unparseable_bundle_at_start_up_is_a_configuration_error_naming_the_file()
    {
        var path = _f.WriteBundle(Prod, [], rawJson: "not json");

        var error = Assert.Throws<InvalidOperationException>(() => _f.Attestor())!;
        Assert.That(error.Message, Does.Contain(path));
        Assert.That(_f.Options().Validate(), Has.One.Contains(path));
    }

    [Test]
    public void Options_validation_reports_each_problem()
    {
        var options = new JwtSvidOptions
        {
            Audience = " ",
            Leeway = TimeSpan.FromMinutes(6),
            MaxTokenAge = TimeSpan.Zero,
            MaxTokenLength = 10,
            TrustBundles = new()
            {
                ["Bad.Domain"] = _f.Bundles[Prod],
                ["missing.example.org"] = Path.Combine(_f.Directory, "nope.json"),
            },
        };

        var messages = options.Validate().ToList();

        Assert.That(messages, Has.Some.Contains("Audience"));
        Assert.That(messages, Has.Some.Contains("Leeway"));
        Assert.That(messages, Has.Some.Contains("MaxTokenAge"));
        Assert.That(messages, Has.Some.Contains("MaxTokenLength"));
        Assert.That(messages, Has.Some.Contains("Bad.Domain").And.Some.Contains("lowercase"));
        Assert.That(messages, Has.Some.Contains("nope.json").And.Some.Contains("does not exist"));
        Assert.That(new JwtSvidOptions { Audience = "a" }.Validate(), Has.Some.Contains("TrustBundles"));
        Assert.That(_f.Options().Validate(), Is.Empty);
        Assert.Throws<InvalidOperationException>(() => new JwtSvidAttestor(options, _f.Time, Mock.Of<ILogger<JwtSvidAttestor>>()));
    }

    [Test]
    public void Parser_keeps_only_usable_jwt_svid_keys()
    {
        var weakRsa = TestKey.Rsa("weak", 1024);
        var offCurve = Es256.Jwk(kid: "off-curve");
        offCurve["y"] = offCurve["x"];
        var shortX = Es256.Jwk(kid: "short-x");
        shortX["x"] = TestKey.B64(new byte[31]);
        var json = System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["spiffe_sequence"] = 7,
            ["keys"] = new object[]
            {
                Es256.Jwk(),
                Rsa.Jwk(kid: "pinned-ps256", extra: new() { ["alg"] = "PS256" }),
                Es256.Jwk(kid: "pinned-to-rsa", extra: new() { ["alg"] = "RS256" }),
                Es256.Jwk(kid: "pinned-hs256", extra: new() { ["alg"] = "HS256" }),
                Es256.Jwk(kid: "with-private", extra: new() { ["d"] = TestKey.B64(new byte[32]) }),
                Es256.Jwk(use: "x509-svid", kid: "x509"),
                Es256.Jwk(use: null, kid: "no-use"),
                Es256.Jwk(kid: ""),
                weakRsa.Jwk(),
                offCurve,
                shortX,
                new Dictionary<string, object?> { ["kty"] = "OKP", ["crv"] = "Ed25519", ["x"] = "AAAA", ["kid"] = "okp", ["use"] = "jwt-svid" },
                new Dictionary<string, object?> { ["kty"] = "oct", ["k"] = "c2VjcmV0", ["kid"] = "oct", ["use"] = "jwt-svid" },
            },
        });

        var bundle = TrustBundleParser.Parse(Prod, System.Text.Encoding.UTF8.GetBytes(json));

        Assert.That(bundle.Keys.Keys, Is.EquivalentTo(new[] { Es256.Kid, "pinned-ps256" }));
        Assert.That(bundle.Sequence, Is.EqualTo(7));
        Assert.That(bundle.Skipped, Has.Count.EqualTo(10), string.Join("\n", bundle.Skipped));
        Assert.That(bundle.Keys["pinned-ps256"].MismatchWith(Alg("RS256")), Is.Not.Null);
        Assert.That(bundle.Keys["pinned-ps256"].MismatchWith(Alg("PS256")), Is.Null);
        Assert.That(string.Join("\n", bundle.Skipped), Does.Not.Contain((string)Es256.Jwk()["x"]!));
    }

    [TestCase("[]", "not a JSON object")]
    [TestCase("{}", "no 'keys' array")]
    [TestCase("{\"keys\":{}}", "no 'keys' array")]
    [TestCase("{\"keys\":[1]}", "not a JSON object")]
    [TestCase("{\"keys\":[],\"keys\":[]}", "duplicate")]
    public void Parser_refuses_documents_that_are_not_jwk_sets(string json, string problem)
    {
        var error = Assert.Throws<BundleFormatException>(() => TrustBundleParser.Parse(Prod, System.Text.Encoding.UTF8.GetBytes(json)))!;
        Assert.That(error.Message, Does.Contain(problem));
    }

    [TestCase(new byte[] { 0xFF }, TestName = "Parser_refuses_a_key_set_with_an_invalid_UTF8_byte")]
    [TestCase(new byte[] { 0xC0, 0xAF }, TestName = "Parser_refuses_a_key_set_with_an_overlong_UTF8_encoding")]
    [TestCase(new byte[] { 0xED, 0xA0, 0x80 }, TestName = "Parser_refuses_a_key_set_with_a_UTF8_encoded_surrogate")]
    [TestCase(new byte[] { 0x5C, 0x75, 0x64, 0x38, 0x30, 0x30 }, TestName = "Parser_refuses_a_key_set_with_an_escaped_lone_surrogate")]
    public void Parser_refuses_key_sets_that_are_not_strict_UTF8(byte[] raw)
    {
        var json = HostileTokenTests.Spliced(new { keys = new[] { Es256.Jwk(kid: Es256.Kid + HostileTokenTests.Bad) } }, raw);

        Assert.That(TrustBundleParser.TryParse(Prod, json, KeySetProfile.OidcJwks, out var bundle), Is.EqualTo("the document is not strictly valid UTF-8"));
        Assert.That(bundle, Is.Null);
    }

    [Test]
    public void Parser_refuses_duplicate_kids_as_ambiguous()
    {
        var json = System.Text.Json.JsonSerializer.Serialize(new { keys = new[] { Es256.Jwk(), Stranger.Jwk(kid: Es256.Kid) } });
        Assert.Throws<BundleFormatException>(() => TrustBundleParser.Parse(Prod, System.Text.Encoding.UTF8.GetBytes(json)));
    }

    private static JwsAlgorithm Alg(string name) => JwsAlgorithm.TryGet(name, out var a) ? a : throw new ArgumentException(name);
}
