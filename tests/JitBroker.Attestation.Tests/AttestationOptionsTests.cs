using JitBroker.Core;
using JitBroker.Testing;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace JitBroker.Attestation.Tests;

[TestFixture]
public sealed class AttestationOptionsTests
{
    private SvidFixture _svids = null!;
    private X509Fixture _x509 = null!;
    private string _jwksPath = null!;

    [SetUp]
    public void SetUp()
    {
        _svids = new SvidFixture();
        _x509 = new X509Fixture();
        _jwksPath = Path.Combine(_svids.Directory, "cluster-jwks.json");
        File.WriteAllText(_jwksPath, OidcFixture.Jwks(OidcFixture.ClusterKey));
    }

    [TearDown]
    public void TearDown()
    {
        _svids.Dispose();
        _x509.Dispose();
    }

    [Test]
    public void Nothing_configured_is_one_clear_problem()
    {
        Assert.That(new AttestationOptions().Validate(), Has.One.Contains("at least one"));
    }

    [Test]
    public void Only_configured_attestors_are_validated()
    {
        var options = new AttestationOptions { Oidc = OidcOnly() };
        Assert.That(options.Validate(), Is.Empty, "an unconfigured JwtSvid section (no audience) is not an error");

        options.X509Svid.TrustBundles["x.example.org"] = "/does/not/exist.pem";
        Assert.That(options.Validate(), Has.One.Contains("X509Svid:TrustBundles:x.example.org"));
    }

    [TestCase("system:serviceaccount:agents:***", "three or more consecutive '*'")]
    [TestCase(" system:serviceaccount:agents:*", "leading or trailing white space")]
    [TestCase("", "must not be empty")]
    public void An_invalid_subject_pattern_stops_start_up_naming_the_problem(string pattern, string problem)
    {
        var options = new AttestationOptions { Oidc = OidcOnly() };
        options.Oidc.Issuers[0].SubjectPatterns = [pattern];
        Assert.That(options.Validate(), Has.One.Contains("SubjectPatterns").And.Contains(problem));
    }

    [Test]
    public void Registers_each_configured_attestor_in_routing_order()
    {
        var options = new AttestationOptions { JwtSvid = _svids.Options(), Oidc = OidcOnly(), X509Svid = _x509.Options() };
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(TestClock.Create());

        services.AddJitBrokerAttestation(options);
        using var provider = services.BuildServiceProvider();

        var methods = provider.GetServices<IWorkloadAttestor>().Select(a => a.Method);
        Assert.That(methods, Is.EqualTo(new[] { "x509-svid", "oidc", "jwt-svid" }));
    }

    [Test]
    public void Registers_nothing_for_unconfigured_attestors_and_falls_back_to_the_system_clock()
    {
        var services = new ServiceCollection();

        services.AddJitBrokerAttestation(new AttestationOptions { JwtSvid = _svids.Options() });
        using var provider = services.BuildServiceProvider();

        Assert.That(provider.GetServices<IWorkloadAttestor>().Select(a => a.Method), Is.EqualTo(new[] { "jwt-svid" }));
        Assert.That(provider.GetRequiredService<TimeProvider>(), Is.SameAs(TimeProvider.System));
    }

    [Test]
    public void Binds_from_configuration_with_clean_keys()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["JitBroker:Attestation:JwtSvid:Audience"] = "spiffe://jitbroker.test/broker",
            ["JitBroker:Attestation:JwtSvid:TrustBundles:prod.example.org"] = _svids.Bundles[SvidFixture.Prod],
            ["JitBroker:Attestation:JwtSvid:TrustBundleUrls:remote.example.org"] = "https://spire.remote.example.org/bundle",
            ["JitBroker:Attestation:JwtSvid:Refresh:UnknownKeyMinInterval"] = "00:01:00",
            ["JitBroker:Attestation:Oidc:Issuers:0:Issuer"] = "https://kubernetes.default.svc.cluster.local",
            ["JitBroker:Attestation:Oidc:Issuers:0:Audience"] = "jitbroker",
            ["JitBroker:Attestation:Oidc:Issuers:0:JwksPath"] = _jwksPath,
            ["JitBroker:Attestation:Oidc:Issuers:0:SubjectPatterns:0"] = "system:serviceaccount:agents:*",
            ["JitBroker:Attestation:Oidc:MaxTokenAge"] = "02:00:00",
            ["JitBroker:Attestation:X509Svid:TrustBundles:prod.example.org"] = _x509.Bundles[X509Fixture.Prod],
            ["JitBroker:Attestation:X509Svid:RevocationMode"] = "Offline",
        }).Build();

        var options = configuration.GetSection("JitBroker:Attestation").Get<AttestationOptions>()!;

        Assert.That(options.Validate(), Is.Empty);
        Assert.That(options.JwtSvid.TrustBundleUrls["remote.example.org"], Is.EqualTo("https://spire.remote.example.org/bundle"));
        Assert.That(options.JwtSvid.Refresh.UnknownKeyMinInterval, Is.EqualTo(TimeSpan.FromMinutes(1)));
        Assert.That(options.Oidc.Issuers.Single().SubjectPatterns, Is.EqualTo(new[] { "system:serviceaccount:agents:*" }));
        Assert.That(options.Oidc.MaxTokenAge, Is.EqualTo(TimeSpan.FromHours(2)));
        Assert.That(options.X509Svid.RevocationMode, Is.EqualTo(System.Security.Cryptography.X509Certificates.X509RevocationMode.Offline));
    }

    private OidcOptions OidcOnly() => new()
    {
        Issuers = [new OidcIssuerOptions { Issuer = "https://kubernetes.default.svc.cluster.local", Audience = "jitbroker", JwksPath = _jwksPath }],
    };
}
