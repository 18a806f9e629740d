using System.Security.Cryptography.X509Certificates;
using JitBroker.Core;
using JitBroker.Testing;
using NUnit.Framework;
using static JitBroker.Attestation.Tests.X509Fixture;

namespace JitBroker.Attestation.Tests;

/// <summary>
/// Hostile battery for X.509-SVIDs over mTLS: every certificate here is refused as Unauthenticated with
/// exactly the expected reason and a message without certificate material.
/// </summary>
[TestFixture]
public sealed class X509HostileTests
{
    private X509Fixture _f = null!;

    [SetUp]
    public void SetUp() => _f = new X509Fixture();

    [TearDown]
    public void TearDown() => _f.Dispose();

    public static IEnumerable<TestCaseData> Cases()
    {
        TestCaseData Case(string name, string reason, Func<X509Fixture, X509Certificate2> leaf) =>
            new TestCaseData(leaf, reason).SetName("Refuses_x509_" + name);

        // Trust.
        yield return Case("untrusted_ca", Reasons.Attestation.CertificateUntrusted,
            f => X509SvidFactory.CreateLeaf(X509SvidFactory.CreateCa("nobody.example.org", f.Now.AddDays(-1), f.Now.AddDays(9)), Workload, f.Now.AddHours(-1), f.Now.AddHours(1)));
        yield return Case("look_alike_ca_same_name_other_key", Reasons.Attestation.CertificateUntrusted, f => f.Leaf(ca: f.StrangerCa));
        yield return Case("trust_domain_a_chained_to_b_ca", Reasons.Attestation.CertificateUntrusted, f => f.Leaf(ca: f.OtherCa));
        yield return Case("trust_domain_b_chained_to_a_ca", Reasons.Attestation.CertificateUntrusted, f => f.Leaf("spiffe://other.example.org/agents/x"));
        yield return Case("self_signed_leaf", Reasons.Attestation.CertificateUntrusted, f =>
        {
            var self = X509SvidFactory.CreateCa(Prod, f.Now.AddDays(-1), f.Now.AddDays(1));
            return X509SvidFactory.CreateLeaf(self, Workload, f.Now.AddHours(-1), f.Now.AddHours(1), s => s.CertificateAuthority = false);
        });
        yield return Case("trust_domain_not_configured", Reasons.Attestation.X509TrustDomainUnknown, f => f.Leaf("spiffe://evil.example.org/agents/planner"));

        // SAN.
        yield return Case("two_uri_sans", Reasons.Attestation.UriSanInvalid, f => f.Leaf(customize: s => s.UriSans.Add("spiffe://prod.example.org/agents/admin")));
        yield return Case("no_uri_san_dns_only", Reasons.Attestation.UriSanInvalid, f => f.Leaf(customize: s => { s.UriSans.Clear(); s.DnsSans.Add("planner.prod.example.org"); }));
        yield return Case("no_san_at_all", Reasons.Attestation.UriSanInvalid, f => f.Leaf(customize: s => s.UriSans.Clear()));
        // The URI SAN's bytes (issue 14 item 6): an IA5String is ASCII, so anything else is a malformed
        // certificate, never a string decoded leniently (or a U+FFFD that makes two IDs look alike).
        yield return Case("uri_san_utf8_non_ascii", Reasons.Attestation.CertificateMalformed, f => RawSan(f, "spiffe://prod.example.org/agents/pl\u00e4nner"u8.ToArray()));
        yield return Case("uri_san_invalid_utf8", Reasons.Attestation.CertificateMalformed, f => RawSan(f, [.. "spiffe://prod.example.org/agents/planner"u8, 0xFF]));
        yield return Case("uri_san_overlong_slash", Reasons.Attestation.CertificateMalformed, f => RawSan(f, [.. "spiffe://prod.example.org/agents"u8, 0xC0, 0xAF, .. "planner"u8]));
        yield return Case("uri_san_latin1", Reasons.Attestation.CertificateMalformed, f => RawSan(f, [.. "spiffe://prod.example.org/agents/pl"u8, 0xE4, .. "nner"u8]));
        yield return Case("uri_san_nul_byte", Reasons.Attestation.SpiffeIdInvalid, f => RawSan(f, [.. "spiffe://prod.example.org/agents/planner"u8, 0x00]));
        yield return Case("non_spiffe_uri", Reasons.Attestation.SpiffeIdInvalid, f => f.Leaf("https://prod.example.org/agents/planner"));
        yield return Case("bare_trust_domain_id", Reasons.Attestation.SpiffeIdInvalid, f => f.Leaf("spiffe://prod.example.org"));
        yield return Case("uppercase_trust_domain", Reasons.Attestation.SpiffeIdInvalid, f => f.Leaf("spiffe://Prod.example.org/agents/planner"));
        yield return Case("dotdot_path", Reasons.Attestation.SpiffeIdInvalid, f => f.Leaf("spiffe://prod.example.org/agents/../admin"));

        // Leaf rules.
        yield return Case("ca_leaf", Reasons.Attestation.LeafIsCa, f => f.Leaf(customize: s =>
        {
            s.CertificateAuthority = true;
            s.KeyUsage = System.Security.Cryptography.X509Certificates.X509KeyUsageFlags.DigitalSignature;
        }));
        yield return Case("missing_digital_signature", Reasons.Attestation.KeyUsageInvalid, f => f.Leaf(customize: s => s.KeyUsage = X509KeyUsageFlags.KeyEncipherment));
        yield return Case("key_cert_sign_on_leaf", Reasons.Attestation.KeyUsageInvalid,
            f => f.Leaf(customize: s => s.KeyUsage = X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyCertSign));
        yield return Case("crl_sign_on_leaf", Reasons.Attestation.KeyUsageInvalid,
            f => f.Leaf(customize: s => s.KeyUsage = X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.CrlSign));
        yield return Case("no_key_usage", Reasons.Attestation.KeyUsageInvalid, f => f.Leaf(customize: s => s.KeyUsage = null));
        yield return Case("eku_server_auth_only", Reasons.Attestation.KeyUsageInvalid, f => f.Leaf(customize: s => s.ExtendedKeyUsages = [X509SvidFactory.ServerAuthOid]));

        // Time.
        yield return Case("expired", Reasons.Attestation.CertificateExpired, f => f.Leaf(notBefore: TimeSpan.FromHours(-2), notAfter: TimeSpan.FromMinutes(-1)));
        yield return Case("not_yet_valid", Reasons.Attestation.CertificateNotYetValid, f => f.Leaf(notBefore: TimeSpan.FromMinutes(5), notAfter: TimeSpan.FromHours(2)));
    }

    [TestCaseSource(nameof(Cases))]
    public void Hostile_certificate_is_refused_with_exact_reason(Func<X509Fixture, X509Certificate2> build, string reason)
    {
        using var leaf = build(_f);
        var attestor = _f.Attestor();

        var error = Assert.ThrowsAsync<BrokerException>(async () => await attestor.AttestAsync(new AttestationEvidence(null, leaf)))!;

        Assert.Multiple(() =>
        {
            Assert.That(error.Reason, Is.EqualTo(reason));
            Assert.That(error.Failure, Is.EqualTo(BrokerFailure.Unauthenticated));
            Assert.That(error.InnerException, Is.Null);
            Assert.That(error.Message, Does.Not.Contain("-----BEGIN"));
            Assert.That(error.Message, Does.Not.Contain(Convert.ToBase64String(leaf.RawData)[..24]));
            Assert.That(error.Message, Does.Not.Contain(Convert.ToHexString(leaf.RawData)[..24]));
            Assert.That(error.Message, Does.Not.Contain("Exception"));
        });
    }

    [Test]
    public void Missing_certificate_is_refused()
    {
        var error = Assert.ThrowsAsync<BrokerException>(async () => await _f.Attestor().AttestAsync(new AttestationEvidence(null)))!;
        Assert.That(error.Reason, Is.EqualTo(Reasons.Attestation.CertificateMissing));
    }

    /// <summary>A leaf whose only URI SAN holds exactly <paramref name="uri"/>.</summary>
    private static X509Certificate2 RawSan(X509Fixture f, byte[] uri) => f.Leaf(customize: s =>
    {
        s.UriSans.Clear();
        s.RawUriSans.Add(uri);
    });
}
