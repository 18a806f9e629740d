using System.Buffers.Text;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using JitBroker.Core;
using JitBroker.Testing;
using NUnit.Framework;
using static JitBroker.Attestation.Tests.X509Fixture;

namespace JitBroker.Attestation.Tests;

[TestFixture]
public sealed class X509SvidTests
{
    private X509Fixture _f = null!;

    [SetUp]
    public void SetUp() => _f = new X509Fixture();

    [TearDown]
    public void TearDown() => _f.Dispose();

    [Test]
    public async Task Valid_x509_svid_is_attested_with_its_certificate_thumbprint()
    {
        using var leaf = _f.Leaf();

        var identity = await _f.Attestor().AttestAsync(new AttestationEvidence(null, leaf));

        Assert.Multiple(() =>
        {
            Assert.That(identity.Method, Is.EqualTo("x509-svid"));
            Assert.That(identity.Id, Is.EqualTo(Workload));
            Assert.That(identity.TrustDomain, Is.EqualTo(Prod));
            Assert.That(identity.Facts["spiffe_id"], Is.EqualTo(Workload));
            Assert.That(identity.Facts["path"], Is.EqualTo("/agents/planner"));
            Assert.That(identity.CertificateThumbprint, Is.EqualTo(Base64Url.EncodeToString(leaf.GetCertHash(HashAlgorithmName.SHA256))));
            Assert.That(identity.CertificateThumbprint, Has.Length.EqualTo(43), "x5t#S256: unpadded base64url of 32 bytes");
            Assert.That(identity.ReplayKey, Is.Null);
            Assert.That(identity.EvidenceExpiresAt, Is.EqualTo(new DateTimeOffset(leaf.NotAfter.ToUniversalTime())));
            Assert.That(identity.EvidenceFingerprint, Is.EqualTo("sha256:" + Convert.ToHexStringLower(SHA256.HashData(leaf.RawData))));
        });
        identity.EnsureWellFormed();
    }

    [Test]
    public async Task Leeway_applies_to_the_validity_window()
    {
        using var justExpired = _f.Leaf(notBefore: TimeSpan.FromHours(-2), notAfter: TimeSpan.FromSeconds(-20));
        using var almostValid = _f.Leaf(notBefore: TimeSpan.FromSeconds(20));

        Assert.That((await _f.Attestor().AttestAsync(new AttestationEvidence(null, justExpired))).Id, Is.EqualTo(Workload));
        Assert.That((await _f.Attestor().AttestAsync(new AttestationEvidence(null, almostValid))).Id, Is.EqualTo(Workload));
        var error = Assert.ThrowsAsync<BrokerException>(async () =>
            await _f.Attestor(o => o.Leeway = TimeSpan.Zero).AttestAsync(new AttestationEvidence(null, justExpired)))!;
        Assert.That(error.Reason, Is.EqualTo(Reasons.Attestation.CertificateExpired));
    }

    [Test]
    public void Accepts_a_client_certificate_only_without_a_bearer_token()
    {
        using var leaf = _f.Leaf();
        var attestor = _f.Attestor();

        Assert.That(attestor.Accepts(new AttestationEvidence(null, leaf)), Is.True);
        Assert.That(attestor.Accepts(new AttestationEvidence("a.b.c", leaf)), Is.False);
        Assert.That(attestor.Accepts(new AttestationEvidence("a.b.c")), Is.False);
        Assert.That(attestor.Accepts(new AttestationEvidence(null)), Is.False);
    }

    [Test]
    public void Both_a_token_and_a_certificate_are_refused_as_ambiguous_by_either_attestor()
    {
        using var leaf = _f.Leaf();
        using var svids = new SvidFixture();
        using var jwtSvid = svids.Attestor();

        var byX509 = Assert.ThrowsAsync<BrokerException>(async () => await _f.Attestor().AttestAsync(new AttestationEvidence(svids.Token(), leaf)))!;
        var byToken = Assert.ThrowsAsync<BrokerException>(async () => await jwtSvid.AttestAsync(new AttestationEvidence(svids.Token(), leaf)))!;
        var registry = new AttestorRegistry([_f.Attestor(), jwtSvid]);
        var routed = Assert.ThrowsAsync<BrokerException>(async () => await registry.AttestAsync(new AttestationEvidence(svids.Token(), leaf)))!;

        Assert.That(new[] { byX509.Reason, byToken.Reason, routed.Reason }, Is.All.EqualTo(Reasons.Attestation.EvidenceAmbiguous));
        Assert.That(routed.Failure, Is.EqualTo(BrokerFailure.Unauthenticated));
    }

    [Test]
    public async Task Registry_routes_a_certificate_to_the_x509_attestor()
    {
        using var leaf = _f.Leaf();
        using var svids = new SvidFixture();
        using var jwtSvid = svids.Attestor();
        var registry = new AttestorRegistry([jwtSvid, _f.Attestor()]);

        Assert.That((await registry.AttestAsync(new AttestationEvidence(null, leaf))).Method, Is.EqualTo("x509-svid"));
        Assert.That((await registry.AttestAsync(new AttestationEvidence(svids.Token()))).Method, Is.EqualTo("jwt-svid"));
    }

    [Test]
    public async Task Spiffe_bundle_json_is_accepted_as_an_x509_bundle()
    {
        File.WriteAllText(_f.Bundles[Prod], X509SvidFactory.ToSpiffeBundleJson(_f.ProdCa));
        using var leaf = _f.Leaf();

        Assert.That((await _f.Attestor().AttestAsync(new AttestationEvidence(null, leaf))).Id, Is.EqualTo(Workload));
    }

    [Test]
    public async Task Ca_rotated_out_of_the_bundle_file_is_distrusted_after_the_next_check()
    {
        using var newCa = X509SvidFactory.CreateCa(Prod, _f.Now.AddDays(-1), _f.Now.AddDays(365), subjectName: "O=prod.example.org, CN=SPIFFE CA 2");
        using var oldLeaf = _f.Leaf();
        using var newLeaf = _f.Leaf(ca: newCa);
        var attestor = _f.Attestor();
        Assert.That((await attestor.AttestAsync(new AttestationEvidence(null, oldLeaf))).Id, Is.EqualTo(Workload));

        X509SvidFactory.WritePemFile(_f.Bundles[Prod], newCa);
        File.SetLastWriteTimeUtc(_f.Bundles[Prod], File.GetLastWriteTimeUtc(_f.Bundles[Prod]).AddSeconds(1));
        _f.Time.Advance(TimeSpan.FromSeconds(5));

        var error = Assert.ThrowsAsync<BrokerException>(async () => await attestor.AttestAsync(new AttestationEvidence(null, oldLeaf)))!;
        Assert.That(error.Reason, Is.EqualTo(Reasons.Attestation.CertificateUntrusted));
        Assert.That((await attestor.AttestAsync(new AttestationEvidence(null, newLeaf))).Id, Is.EqualTo(Workload));
    }

    [Test]
    public void Options_validation_reports_each_problem()
    {
        using var leaf = _f.Leaf();
        var leafOnly = X509SvidFactory.WritePemFile(Path.Combine(_f.Directory, "leaf.pem"), leaf);
        var options = new X509SvidOptions
        {
            Leeway = TimeSpan.FromMinutes(10),
            RevocationMode = (X509RevocationMode)42,
            TrustBundles = new()
            {
                ["Bad.Domain"] = _f.Bundles[Prod],
                ["missing.example.org"] = Path.Combine(_f.Directory, "nope.pem"),
                ["leafonly.example.org"] = leafOnly,
            },
        };

        var messages = options.Validate().ToList();

        Assert.That(messages, Has.Some.Contains("Leeway"));
        Assert.That(messages, Has.Some.Contains("RevocationMode"));
        Assert.That(messages, Has.Some.Contains("Bad.Domain"));
        Assert.That(messages, Has.Some.Contains("nope.pem").And.Some.Contains("does not exist"));
        Assert.That(messages, Has.Some.Contains("leaf.pem").And.Some.Contains("no CA certificate"));
        Assert.That(new X509SvidOptions().Validate(), Has.One.Contains("TrustBundles"));
        Assert.That(_f.Options().Validate(), Is.Empty);
        Assert.Throws<InvalidOperationException>(() => new X509SvidAttestor(options, _f.Time, Microsoft.Extensions.Logging.Abstractions.NullLogger<X509SvidAttestor>.Instance));
    }
}
