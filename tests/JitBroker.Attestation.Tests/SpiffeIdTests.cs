using NUnit.Framework;

namespace JitBroker.Attestation.Tests;

[TestFixture]
public sealed class SpiffeIdTests
{
    [TestCase("spiffe://example.org/workload", "example.org", "/workload")]
    [TestCase("spiffe://example.org", "example.org", "")]
    [TestCase("spiffe://k8s-west.example.com/ns/staging/sa/default", "k8s-west.example.com", "/ns/staging/sa/default")]
    [TestCase("spiffe://trust_domain_name.example.com/a.b/..c/-_.", "trust_domain_name.example.com", "/a.b/..c/-_.")]
    [TestCase("spiffe://10.0.0.1/CaseSensitive/Path", "10.0.0.1", "/CaseSensitive/Path")]
    [TestCase("spiffe://example.org/9eebccd2-12bf-40a6-b262-65fe0487d453", "example.org", "/9eebccd2-12bf-40a6-b262-65fe0487d453")]
    public void Parses_valid_ids_and_round_trips(string value, string trustDomain, string path)
    {
        Assert.That(SpiffeId.TryParse(value, out var id, out var error), Is.True, error);
        Assert.That(id, Is.EqualTo(new SpiffeId(trustDomain, path)));
        Assert.That(id.ToString(), Is.EqualTo(value));
        Assert.That(error, Is.Empty);
    }

    [TestCase(null, "empty")]
    [TestCase("", "empty")]
    [TestCase("spiffe:/example.org/a", "scheme")]
    [TestCase("SPIFFE://example.org/a", "scheme")]
    [TestCase("Spiffe://example.org/a", "scheme")]
    [TestCase("http://example.org/a", "scheme")]
    [TestCase("example.org/a", "scheme")]
    [TestCase("spiffe://", "trust domain is empty")]
    [TestCase("spiffe:///a", "trust domain is empty")]
    [TestCase("spiffe://Example.org/a", "lowercase")]
    [TestCase("spiffe://example.org:8443/a", "port")]
    [TestCase("spiffe://example.org:/a", "port")]
    [TestCase("spiffe://user@example.org/a", "userinfo")]
    [TestCase("spiffe://ex%41mple.org/a", "percent")]
    [TestCase("spiffe://[::1]/a", "only [a-z0-9.-_]")]
    [TestCase("spiffe://exa mple.org/a", "only [a-z0-9.-_]")]
    [TestCase("spiffe://example.org?x=1", "query")]
    [TestCase("spiffe://example.org#frag", "fragment")]
    [TestCase("spiffe://example.org/", "end with '/'")]
    [TestCase("spiffe://example.org/a/", "end with '/'")]
    [TestCase("spiffe://example.org//a", "empty segments")]
    [TestCase("spiffe://example.org/a//b", "empty segments")]
    [TestCase("spiffe://example.org/.", "'.' or '..'")]
    [TestCase("spiffe://example.org/a/./b", "'.' or '..'")]
    [TestCase("spiffe://example.org/a/..", "'.' or '..'")]
    [TestCase("spiffe://example.org/a%2Fb", "percent")]
    [TestCase("spiffe://example.org/a?b=c", "query")]
    [TestCase("spiffe://example.org/a#b", "fragment")]
    [TestCase("spiffe://example.org/a b", "only [A-Za-z0-9.-_]")]
    [TestCase("spiffe://example.org/a:b", "only [A-Za-z0-9.-_]")]
    [TestCase("spiffe://example.org/ünïcode", "only [A-Za-z0-9.-_]")]
    [TestCase("spiffe://example.org/a\\b", "only [A-Za-z0-9.-_]")]
    public void Refuses_invalid_ids_naming_the_rule(string? value, string expectedError)
    {
        Assert.That(SpiffeId.TryParse(value, out var id, out var error), Is.False);
        Assert.That(error, Does.Contain(expectedError));
        Assert.That(id, Is.EqualTo(default(SpiffeId)));
    }

    [Test]
    public void Length_limits_are_2048_bytes_overall_and_255_for_the_trust_domain()
    {
        var prefix = "spiffe://example.org/";
        var atLimit = prefix + new string('a', SpiffeId.MaxLength - prefix.Length);
        var overLimit = atLimit + "a";
        var longDomain = "spiffe://" + new string('a', 255) + "/x";
        var tooLongDomain = "spiffe://" + new string('a', 256) + "/x";

        Assert.That(SpiffeId.TryParse(atLimit, out _, out _), Is.True);
        Assert.That(SpiffeId.TryParse(overLimit, out _, out var error), Is.False);
        Assert.That(error, Does.Contain("2048"));
        Assert.That(SpiffeId.TryParse(longDomain, out _, out _), Is.True);
        Assert.That(SpiffeId.TryParse(tooLongDomain, out _, out error), Is.False);
        Assert.That(error, Does.Contain("255"));
    }

    [TestCase("example.org", true)]
    [TestCase("dev.jitbroker.local", true)]
    [TestCase("Example.org", false)]
    [TestCase("example.org:443", false)]
    [TestCase("", false)]
    [TestCase(null, false)]
    public void Validates_trust_domain_names(string? name, bool valid) =>
        Assert.That(SpiffeId.IsValidTrustDomain(name, out _), Is.EqualTo(valid));
}
