using System.Runtime.Versioning;
using System.Text.Json;
using JitBroker.Core;
using JitBroker.Testing;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using NUnit.Framework;

namespace JitBroker.Attestation.Tests;

[TestFixture]
public sealed class DevTrustDomainTests
{
    private const string Audience = "jitbroker";
    private const string Workload = "spiffe://dev.jitbroker.local/agents/demo";
    private string _dir = null!;
    private FakeTimeProvider _time = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Directory.CreateTempSubdirectory("jitbroker-dev-td-").FullName, "data");
        _time = TestClock.Create();
    }

    [TearDown]
    public void TearDown() => Directory.Delete(Path.GetDirectoryName(_dir)!, recursive: true);

    [Test]
    [Platform(Exclude = "Win", Reason = "Unix file modes")]
    [UnsupportedOSPlatform("windows")]
    public void Creates_directory_key_with_mode_0600_and_a_spiffe_bundle()
    {
        using var dev = DevTrustDomain.LoadOrCreate(_dir, _time);

        Assert.That(File.GetUnixFileMode(dev.KeyPath), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
        Assert.That(File.GetUnixFileMode(_dir), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute));
        Assert.That(File.ReadAllText(dev.KeyPath), Does.StartWith("-----BEGIN PRIVATE KEY-----"));
        Assert.That(dev.BundlePath, Is.EqualTo(Path.Combine(_dir, "dev-trust-domain.bundle.json")));

        using var bundle = JsonDocument.Parse(File.ReadAllText(dev.BundlePath));
        var key = bundle.RootElement.GetProperty("keys")[0];
        Assert.That(bundle.RootElement.GetProperty("spiffe_refresh_hint").GetInt32(), Is.EqualTo(300));
        Assert.That(key.GetProperty("kty").GetString(), Is.EqualTo("EC"));
        Assert.That(key.GetProperty("crv").GetString(), Is.EqualTo("P-256"));
        Assert.That(key.GetProperty("use").GetString(), Is.EqualTo("jwt-svid"));
        Assert.That(key.GetProperty("kid").GetString(), Is.EqualTo(dev.KeyId));
        Assert.That(key.TryGetProperty("d", out _), Is.False, "the bundle is public: no private member");
        Assert.That(File.ReadAllText(dev.BundlePath), Does.Not.Contain("PRIVATE"));
    }

    [Test]
    public void Second_load_reuses_the_existing_key_and_bundle()
    {
        string keyId, keyPem;
        DateTime bundleWritten;
        using (var first = DevTrustDomain.LoadOrCreate(_dir, _time))
        {
            keyId = first.KeyId;
            keyPem = File.ReadAllText(first.KeyPath);
            bundleWritten = File.GetLastWriteTimeUtc(first.BundlePath);
        }

        using var second = DevTrustDomain.LoadOrCreate(_dir, _time);

        Assert.That(second.KeyId, Is.EqualTo(keyId));
        Assert.That(File.ReadAllText(second.KeyPath), Is.EqualTo(keyPem));
        Assert.That(File.GetLastWriteTimeUtc(second.BundlePath), Is.EqualTo(bundleWritten), "an unchanged bundle is not rewritten");
    }

    [Test]
    public void Missing_bundle_is_recreated_from_the_existing_key()
    {
        string keyId;
        using (var first = DevTrustDomain.LoadOrCreate(_dir, _time))
        {
            keyId = first.KeyId;
            File.Delete(first.BundlePath);
        }

        using var second = DevTrustDomain.LoadOrCreate(_dir, _time);
        Assert.That(TrustBundleParser.Parse(DevTrustDomain.Name, File.ReadAllBytes(second.BundlePath)).Keys.Keys, Is.EqualTo(new[] { keyId }));
    }

    [Test]
    [Platform(Exclude = "Win", Reason = "Unix file modes")]
    [UnsupportedOSPlatform("windows")]
    public void Key_readable_by_others_is_refused()
    {
        string keyPath;
        using (var dev = DevTrustDomain.LoadOrCreate(_dir, _time))
        {
            keyPath = dev.KeyPath;
        }

        File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);

        var error = Assert.Throws<InvalidOperationException>(() => DevTrustDomain.LoadOrCreate(_dir, _time))!;
        Assert.That(error.Message, Does.Contain("chmod 600"));
    }

    [Test]
    public async Task Minted_svid_is_accepted_by_the_attestor()
    {
        using var dev = DevTrustDomain.LoadOrCreate(_dir, _time);
        var attestor = new JwtSvidAttestor(
            new JwtSvidOptions { Audience = Audience, TrustBundles = new() { [DevTrustDomain.Name] = dev.BundlePath } },
            _time, NullLogger<JwtSvidAttestor>.Instance);

        var token = dev.MintSvid(Workload, Audience, TimeSpan.FromMinutes(5));
        var identity = await attestor.AttestAsync(new AttestationEvidence(token));

        Assert.That(identity.Id, Is.EqualTo(Workload));
        Assert.That(identity.TrustDomain, Is.EqualTo(DevTrustDomain.Name));
        Assert.That(identity.EvidenceExpiresAt, Is.EqualTo(_time.GetUtcNow().AddMinutes(5)));
        Assert.That(identity.EvidenceId, Is.Not.Null.And.Length.GreaterThanOrEqualTo(20));
        Assert.That(dev.MintSvid(Workload, Audience, TimeSpan.FromMinutes(5)), Is.Not.EqualTo(token), "random jti");

        _time.Advance(TimeSpan.FromMinutes(6));
        var expired = Assert.ThrowsAsync<BrokerException>(async () => await attestor.AttestAsync(new AttestationEvidence(token)))!;
        Assert.That(expired.Reason, Is.EqualTo(Reasons.Attestation.Expired));
    }

    [Test]
    public async Task Minted_svid_verifies_with_an_independent_JOSE_library_and_has_the_JWT_SVID_shape()
    {
        using var dev = DevTrustDomain.LoadOrCreate(_dir, _time);
        var token = dev.MintSvid(Workload, Audience, TimeSpan.FromMinutes(5));
        var bundleKey = JsonDocument.Parse(File.ReadAllText(dev.BundlePath)).RootElement.GetProperty("keys")[0].GetRawText();

        var result = await new JsonWebTokenHandler().ValidateTokenAsync(token, new TokenValidationParameters
        {
            IssuerSigningKey = new JsonWebKey(bundleKey),
            ValidAudience = Audience,
            ValidateIssuer = false,
            ValidateLifetime = false, // the fake clock is not the library's clock
            ClockSkew = TimeSpan.FromSeconds(30),
            ValidAlgorithms = ["ES256"],
        });

        Assert.That(result.IsValid, Is.True, result.Exception?.Message);
        var jwt = new JsonWebToken(token);
        Assert.That(jwt.Alg, Is.EqualTo("ES256"));
        Assert.That(jwt.Kid, Is.EqualTo(dev.KeyId));
        Assert.That(jwt.Typ, Is.EqualTo("JWT"));
        Assert.That(jwt.Subject, Is.EqualTo(Workload));
        Assert.That(jwt.Audiences, Is.EqualTo(new[] { Audience }));
        Assert.That(jwt.IssuedAt, Is.EqualTo(_time.GetUtcNow().UtcDateTime));
    }

    [TestCase("spiffe://prod.example.org/agents/demo")]
    [TestCase("spiffe://dev.jitbroker.local")]
    [TestCase("spiffe://dev.jitbroker.local/agents/../admin")]
    [TestCase("not a spiffe id")]
    public void Minting_outside_the_dev_trust_domain_throws(string spiffeId)
    {
        using var dev = DevTrustDomain.LoadOrCreate(_dir, _time);
        Assert.Throws<ArgumentException>(() => dev.MintSvid(spiffeId, Audience, TimeSpan.FromMinutes(5)));
    }

    [Test]
    public void Minting_needs_an_audience_and_a_bounded_ttl()
    {
        using var dev = DevTrustDomain.LoadOrCreate(_dir, _time);
        Assert.Throws<ArgumentException>(() => dev.MintSvid(Workload, "", TimeSpan.FromMinutes(5)));
        Assert.Throws<ArgumentOutOfRangeException>(() => dev.MintSvid(Workload, Audience, TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => dev.MintSvid(Workload, Audience, TimeSpan.FromHours(2)));
    }
}
