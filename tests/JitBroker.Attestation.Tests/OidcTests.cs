using JitBroker.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;
using NUnit.Framework;
using static JitBroker.Attestation.Tests.OidcFixture;

namespace JitBroker.Attestation.Tests;

[TestFixture]
public sealed class OidcTests
{
    private OidcFixture _f = null!;

    [SetUp]
    public async Task SetUp() => _f = await OidcFixture.StartAsync();

    [TearDown]
    public async Task TearDown() => await _f.DisposeAsync();

    [Test]
    public async Task Kubernetes_projected_token_is_attested_with_its_facts()
    {
        var attestor = await _f.AttestorAsync();
        var token = _f.Token(claims: c => c["jti"] = "jti-42");

        var identity = await attestor.AttestAsync(new AttestationEvidence(token));

        Assert.Multiple(() =>
        {
            Assert.That(identity.Method, Is.EqualTo("oidc"));
            Assert.That(identity.Id, Is.EqualTo(_f.Issuer + "#" + Subject));
            Assert.That(identity.TrustDomain, Is.EqualTo(_f.Issuer));
            Assert.That(identity.Facts, Is.EquivalentTo(new Dictionary<string, string>
            {
                ["iss"] = _f.Issuer,
                ["sub"] = Subject,
                ["k8s.namespace"] = Namespace,
                ["k8s.service_account"] = ServiceAccount,
                ["k8s.service_account_uid"] = "5b9c3d2e-0000-4000-8000-000000000003",
                ["k8s.pod"] = "planner-7d9f",
                ["k8s.pod_uid"] = "5b9c3d2e-0000-4000-8000-000000000002",
            }));
            Assert.That(identity.EvidenceId, Is.EqualTo("jti-42"));
            Assert.That(identity.ReplayKey, Is.EqualTo("jti:" + _f.Issuer + "|jti-42"));
            Assert.That(identity.EvidenceExpiresAt, Is.EqualTo(DateTimeOffset.FromUnixTimeSeconds(_f.NowSeconds + 600)));
            Assert.That(identity.EvidenceFingerprint, Is.EqualTo(Fingerprints.Of(token)));
            Assert.That(identity.CertificateThumbprint, Is.Null);
        });
        identity.EnsureWellFormed();
        Assert.That(_f.Server.Hits(DiscoveryPath), Is.EqualTo(1));
        Assert.That(_f.Server.Hits(JwksPath), Is.EqualTo(1), "the liar's discovery names another issuer, so its jwks_uri is never followed");
    }

    [Test]
    public async Task Discovery_document_that_is_not_strict_UTF8_is_a_clean_fetch_failure_without_a_stack_trace()
    {
        var log = new Mock<ILogger<OidcAttestor>>();
        log.Setup(l => l.IsEnabled(It.IsAny<LogLevel>())).Returns(true);
        var issuer = _f.Issuer + "/broken";
        // An escaped lone surrogate in 'issuer': valid UTF-8 bytes on the wire, but no valid UTF-16 string.
        _f.Server.Serve("/broken" + DiscoveryPath, "{\"issuer\":\"" + issuer + "\\udfff\",\"jwks_uri\":\"" + _f.Server.Url(JwksPath) + "\"}");
        var attestor = await _f.AttestorAsync(_f.Options(new OidcIssuerOptions { Issuer = issuer, Audience = Audience }), log.Object);

        var error = Assert.ThrowsAsync<BrokerException>(async () => await attestor.AttestAsync(new AttestationEvidence(_f.Token(claims: c => c["iss"] = issuer))))!;

        Assert.That(error.Reason, Is.EqualTo(Reasons.Attestation.BundleUnavailable));
        Assert.That(_f.Server.Hits(JwksPath), Is.Zero, "a document that cannot be read is not followed");
        log.Verify(l => l.Log(LogLevel.Warning, It.Is<EventId>(e => e.Id == 2006 && e.Name == "KeySetFetchFailed"),
            It.IsAny<It.IsAnyType>(), It.Is<Exception?>(e => e == null), It.IsAny<Func<It.IsAnyType, Exception?, string>>()), Times.AtLeastOnce);
        log.Verify(l => l.Log(It.IsAny<LogLevel>(), It.IsAny<EventId>(), It.IsAny<It.IsAnyType>(), It.Is<Exception?>(e => e != null),
            It.IsAny<Func<It.IsAnyType, Exception?, string>>()), Times.Never, "a hostile document is a refusal, not an exception with a stack trace");
    }

    [Test]
    public async Task Token_without_kubernetes_claims_reports_iss_and_sub_only_and_an_es256_key_works()
    {
        var attestor = await _f.AttestorAsync();
        var token = _f.Token(ClusterEcKey, "ES256", claims: c =>
        {
            c.Remove("kubernetes.io");
            c["sub"] = "repo:acme/agents:ref:refs/heads/main";
        });

        var identity = await attestor.AttestAsync(new AttestationEvidence(token));

        Assert.That(identity.Facts.Keys, Is.EquivalentTo(new[] { "iss", "sub" }));
        Assert.That(identity.Id, Is.EqualTo(_f.Issuer + "#repo:acme/agents:ref:refs/heads/main"));
    }

    [Test]
    public async Task Static_jwks_file_serves_air_gapped_clusters_and_is_reloaded_on_change()
    {
        var dir = Directory.CreateTempSubdirectory("jitbroker-oidc-").FullName;
        try
        {
            var path = Path.Combine(dir, "jwks.json");
            File.WriteAllText(path, Jwks(ClusterKey));
            var attestor = await _f.AttestorAsync(_f.Options(_f.IssuerOptions(i => i.JwksPath = path)));
            Assert.That((await attestor.AttestAsync(new AttestationEvidence(_f.Token()))).Facts["sub"], Is.EqualTo(Subject));
            Assert.That(_f.Server.Hits(DiscoveryPath) + _f.Server.Hits(JwksPath), Is.Zero, "no network");

            File.WriteAllText(path, Jwks(RotatedKey));
            File.SetLastWriteTimeUtc(path, File.GetLastWriteTimeUtc(path).AddSeconds(1));
            _f.Time.Advance(TimeSpan.FromSeconds(5));

            var error = Assert.ThrowsAsync<BrokerException>(async () => await attestor.AttestAsync(new AttestationEvidence(_f.Token())))!;
            Assert.That(error.Reason, Is.EqualTo(Reasons.Attestation.KidUnknown));
            Assert.That((await attestor.AttestAsync(new AttestationEvidence(_f.Token(RotatedKey)))).Facts["sub"], Is.EqualTo(Subject));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public async Task Key_rotation_at_the_issuer_is_picked_up_by_the_unknown_kid_refresh_and_the_old_key_then_rejected()
    {
        var attestor = await _f.AttestorAsync(_f.Options(_f.IssuerOptions()));
        var oldToken = _f.Token();
        Assert.That((await attestor.AttestAsync(new AttestationEvidence(oldToken))).Id, Does.EndWith(Subject));

        _f.ServeJwks(JwksPath, RotatedKey);
        Assert.That((await attestor.AttestAsync(new AttestationEvidence(_f.Token(RotatedKey)))).Id, Does.EndWith(Subject));
        Assert.That(_f.Server.Hits(JwksPath), Is.EqualTo(2));

        var error = Assert.ThrowsAsync<BrokerException>(async () => await attestor.AttestAsync(new AttestationEvidence(oldToken)))!;
        Assert.That(error.Reason, Is.EqualTo(Reasons.Attestation.KidUnknown));
    }

    [Test]
    public async Task Jwks_is_refreshed_on_the_default_interval()
    {
        var attestor = await _f.AttestorAsync(_f.Options(_f.IssuerOptions()));
        var source = (RefreshingKeySource)attestor.KeySources[_f.Issuer];

        _f.Time.Advance(TimeSpan.FromMinutes(5));
        await source.Refreshing;

        Assert.That(_f.Server.Hits(DiscoveryPath), Is.EqualTo(2));
        Assert.That(_f.Server.Hits(JwksPath), Is.EqualTo(2));
    }

    [Test]
    public async Task Jwks_url_skips_discovery_and_a_bearer_token_file_is_sent()
    {
        var dir = Directory.CreateTempSubdirectory("jitbroker-oidc-").FullName;
        try
        {
            var tokenPath = Path.Combine(dir, "token");
            File.WriteAllText(tokenPath, "broker-sa-token\n");
            var attestor = await _f.AttestorAsync(_f.Options(_f.IssuerOptions(i =>
            {
                i.JwksUrl = _f.Server.Url(JwksPath);
                i.BearerTokenPath = tokenPath;
            })));

            Assert.That((await attestor.AttestAsync(new AttestationEvidence(_f.Token()))).Id, Does.EndWith(Subject));
            Assert.That(_f.Server.Hits(DiscoveryPath), Is.Zero);
            Assert.That(_f.Server.LastAuthorization, Is.EqualTo("Bearer broker-sa-token"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public async Task Tolerated_x5t_header_and_allowed_algorithms_are_per_issuer()
    {
        var strict = await _f.AttestorAsync(_f.Options(_f.IssuerOptions(i => i.AllowedAlgorithms = ["ES256"])));
        var github = await _f.AttestorAsync(_f.Options(_f.IssuerOptions(i => i.ToleratedHeaders = ["x5t"])));
        var withX5t = _f.Token(header: h => { h["typ"] = "JWT"; h["x5t"] = "ykNaY4qM_ta4k2TgZOCEYLkcYlA"; });

        Assert.That((await github.AttestAsync(new AttestationEvidence(withX5t))).Id, Does.EndWith(Subject));
        var error = Assert.ThrowsAsync<BrokerException>(async () => await strict.AttestAsync(new AttestationEvidence(_f.Token())))!;
        Assert.That(error.Reason, Is.EqualTo(Reasons.Attestation.AlgNotAllowed));
        Assert.That((await strict.AttestAsync(new AttestationEvidence(_f.Token(ClusterEcKey, "ES256")))).Id, Does.EndWith(Subject));
    }

    [Test]
    public async Task Routing_sends_oidc_tokens_to_the_oidc_attestor_and_svids_to_the_jwt_svid_attestor()
    {
        using var svids = new SvidFixture();
        var oidc = await _f.AttestorAsync();
        using var jwtSvid = svids.Attestor();
        var registry = new AttestorRegistry([oidc, jwtSvid]);
        var k8sToken = _f.Token();
        var svid = svids.Token();
        var strangerIssuer = _f.Token(claims: c => c["iss"] = "https://evil.example");

        await Assert.MultipleAsync(async () =>
        {
            Assert.That(oidc.Accepts(new AttestationEvidence(k8sToken)), Is.True);
            Assert.That(jwtSvid.Accepts(new AttestationEvidence(k8sToken)), Is.False);
            Assert.That(oidc.Accepts(new AttestationEvidence(svid)), Is.False);
            Assert.That(oidc.Accepts(new AttestationEvidence(strangerIssuer)), Is.False);
            Assert.That(oidc.Accepts(new AttestationEvidence(k8sToken.Replace('.', '!'))), Is.False);
            Assert.That((await registry.AttestAsync(new AttestationEvidence(k8sToken))).Method, Is.EqualTo("oidc"));
            Assert.That((await registry.AttestAsync(new AttestationEvidence(svid))).Method, Is.EqualTo("jwt-svid"));
        });
        var error = Assert.ThrowsAsync<BrokerException>(async () => await registry.AttestAsync(new AttestationEvidence(strangerIssuer)))!;
        Assert.That(error.Reason, Is.EqualTo(Reasons.IdentityUnsupported));
    }

    [Test]
    public void Options_validation_reports_each_problem()
    {
        var options = new OidcOptions
        {
            Leeway = TimeSpan.FromMinutes(10),
            Issuers =
            [
                new() { Issuer = "https://a.example", Audience = "" },
                new() { Issuer = "https://a.example", Audience = "x" },
                new() { Issuer = "http://insecure.example", Audience = "x" },
                new() { Issuer = "kubernetes.default.svc", Audience = "x" },
                new() { Issuer = "https://b.example", Audience = "x", JwksUrl = "https://b.example/jwks", JwksPath = "/nope" },
                new() { Issuer = "https://c.example", Audience = "x", AllowedAlgorithms = ["HS256"], ToleratedHeaders = ["jku"] },
                new() { Issuer = "https://d.example", Audience = "x", JwksPath = "/does/not/exist.json" },
            ],
        };

        var messages = options.Validate().ToList();

        Assert.That(messages, Has.Some.Contains("Leeway"));
        Assert.That(messages, Has.Some.Contains("Issuers:0:Audience"));
        Assert.That(messages, Has.Some.Contains("configured twice"));
        Assert.That(messages, Has.Some.Contains("Issuers:2").And.Some.Contains("plain http"));
        Assert.That(messages, Has.Some.Contains("Issuers:3"));
        Assert.That(messages, Has.Some.Contains("at most one of"));
        Assert.That(messages, Has.Some.Contains("HS256"));
        Assert.That(messages, Has.Some.Contains("'jku' cannot be tolerated"));
        Assert.That(messages, Has.Some.Contains("does not exist"));
        Assert.That(new OidcOptions().Validate(), Has.One.Contains("Issuers"));
        Assert.That(_f.Options().Validate(), Is.Empty);
        Assert.Throws<InvalidOperationException>(() => new OidcAttestor(options, _f.Time, NullLogger<OidcAttestor>.Instance));
    }
}
