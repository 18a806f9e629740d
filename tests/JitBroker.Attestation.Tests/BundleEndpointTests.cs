using System.Security.Cryptography;
using System.Text.Json;
using JitBroker.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;
using NUnit.Framework;
using static JitBroker.Attestation.Tests.SvidFixture;

namespace JitBroker.Attestation.Tests;

/// <summary>JWT-SVID bundles fetched from a SPIFFE bundle endpoint (a real Kestrel on 127.0.0.1), with a fake clock driving refreshes.</summary>
[TestFixture]
public sealed class BundleEndpointTests
{
    private const string Domain = "remote.example.org";
    private const string Workload = "spiffe://remote.example.org/agents/planner";
    private const string BundlePath = "/bundle";

    private SvidFixture _f = null!;
    private KeyServer _server = null!;
    private readonly List<JwtSvidAttestor> _attestors = [];

    [SetUp]
    public async Task SetUp()
    {
        _f = new SvidFixture();
        _server = await KeyServer.StartAsync();
    }

    [TearDown]
    public async Task TearDown()
    {
        _attestors.ForEach(a => a.Dispose());
        _attestors.Clear();
        await _server.DisposeAsync();
        _f.Dispose();
    }

    public static string Bundle(IEnumerable<TestKey> keys, int? refreshHint = null, long sequence = 1)
    {
        var document = new Dictionary<string, object?> { ["spiffe_sequence"] = sequence, ["keys"] = keys.Select(k => k.Jwk()).ToArray() };
        if (refreshHint is not null)
        {
            document["spiffe_refresh_hint"] = refreshHint;
        }

        return JsonSerializer.Serialize(document);
    }

    [Test]
    public async Task Bundle_is_fetched_at_start_up_in_the_background_and_verifies_svids()
    {
        _server.Serve(BundlePath, Bundle([Es256]));
        var attestor = await StartAsync();

        var identity = await attestor.AttestAsync(new AttestationEvidence(Token(Es256)));

        Assert.That(identity.Id, Is.EqualTo(Workload));
        Assert.That(identity.TrustDomain, Is.EqualTo(Domain));
        Assert.That(_server.Hits(BundlePath), Is.EqualTo(1), "the request path did not fetch");
    }

    [Test]
    public async Task Never_fetched_bundle_refuses_its_svids_until_a_fetch_succeeds()
    {
        _server.Serve(BundlePath, "oops", status: 503);
        var attestor = await StartAsync();

        await AssertRefusedAsync(attestor, Token(Es256), Reasons.Attestation.BundleUnavailable);
        Assert.That(_server.Hits(BundlePath), Is.EqualTo(2), "start-up fetch plus one unknown-key refresh");

        _server.Serve(BundlePath, Bundle([Es256]));
        await AssertRefusedAsync(attestor, Token(Es256), Reasons.Attestation.BundleUnavailable);
        Assert.That(_server.Hits(BundlePath), Is.EqualTo(2), "rate-limited: no fetch within 30 s");

        _f.Time.Advance(TimeSpan.FromSeconds(30));
        await Source(attestor).Refreshing; // the retry timer (30 s after a failure) fires as well
        Assert.That((await attestor.AttestAsync(new AttestationEvidence(Token(Es256)))).Id, Is.EqualTo(Workload));
    }

    [Test]
    public async Task Refresh_follows_the_bundle_refresh_hint_and_a_rotated_out_key_is_then_rejected()
    {
        var rotated = TestKey.Ec("remote-v2", ECCurve.NamedCurves.nistP256);
        _server.Serve(BundlePath, Bundle([Es256], refreshHint: 120));
        var attestor = await StartAsync();
        var oldToken = Token(Es256);
        Assert.That((await attestor.AttestAsync(new AttestationEvidence(oldToken))).Id, Is.EqualTo(Workload));

        _server.Serve(BundlePath, Bundle([rotated], refreshHint: 120, sequence: 2));
        _f.Time.Advance(TimeSpan.FromSeconds(119));
        await Source(attestor).Refreshing;
        Assert.That(_server.Hits(BundlePath), Is.EqualTo(1), "not before the hint");
        Assert.That((await attestor.AttestAsync(new AttestationEvidence(oldToken))).Id, Is.EqualTo(Workload));

        _f.Time.Advance(TimeSpan.FromSeconds(1));
        await Source(attestor).Refreshing;
        Assert.That(_server.Hits(BundlePath), Is.EqualTo(2));
        await AssertRefusedAsync(attestor, oldToken, Reasons.Attestation.KidUnknown);
        Assert.That((await attestor.AttestAsync(new AttestationEvidence(Token(rotated)))).Id, Is.EqualTo(Workload));
    }

    [TestCase(1, 30, TestName = "Refresh_hint_below_the_minimum_is_raised_to_it")]
    [TestCase(null, 300, TestName = "Missing_refresh_hint_means_the_default_interval")]
    [TestCase(604800, 3600, TestName = "Refresh_hint_above_the_maximum_is_lowered_to_it")]
    public async Task Refresh_interval_is_the_clamped_hint(int? hint, int expectedSeconds)
    {
        _server.Serve(BundlePath, Bundle([Es256], refreshHint: hint));
        var attestor = await StartAsync();

        _f.Time.Advance(TimeSpan.FromSeconds(expectedSeconds - 1));
        await Source(attestor).Refreshing;
        Assert.That(_server.Hits(BundlePath), Is.EqualTo(1));
        _f.Time.Advance(TimeSpan.FromSeconds(1));
        await Source(attestor).Refreshing;
        Assert.That(_server.Hits(BundlePath), Is.EqualTo(2));
    }

    [Test]
    public async Task Unknown_kid_refresh_picks_up_a_new_key_at_once()
    {
        var added = TestKey.Ec("remote-added", ECCurve.NamedCurves.nistP256);
        _server.Serve(BundlePath, Bundle([Es256]));
        var attestor = await StartAsync();

        _server.Serve(BundlePath, Bundle([Es256, added], sequence: 2));
        var identity = await attestor.AttestAsync(new AttestationEvidence(Token(added)));

        Assert.That(identity.Id, Is.EqualTo(Workload));
        Assert.That(_server.Hits(BundlePath), Is.EqualTo(2));
    }

    [Test]
    public async Task Flood_of_unknown_kids_fetches_at_most_once_per_interval()
    {
        _server.Serve(BundlePath, Bundle([Es256]));
        var attestor = await StartAsync();
        var forged = Enumerable.Range(0, 300).Select(i => Sign(Stranger, "ES256",
            new Dictionary<string, object?> { ["alg"] = "ES256", ["kid"] = "random-" + i }, Claims())).ToList();

        async Task FloodAsync()
        {
            var reasons = await Task.WhenAll(forged.Select(token => Task.Run(async () =>
            {
                try
                {
                    await attestor.AttestAsync(new AttestationEvidence(token));
                    return "accepted";
                }
                catch (BrokerException e)
                {
                    return e.Reason;
                }
            })));
            Assert.That(reasons, Is.All.EqualTo(Reasons.Attestation.KidUnknown));
        }

        await FloodAsync();
        Assert.That(_server.Hits(BundlePath), Is.EqualTo(2), "one start-up fetch, one refresh for 300 unknown kids");

        _f.Time.Advance(TimeSpan.FromSeconds(29));
        await FloodAsync();
        Assert.That(_server.Hits(BundlePath), Is.EqualTo(2), "still inside the 30 s window");

        _f.Time.Advance(TimeSpan.FromSeconds(1));
        await FloodAsync();
        Assert.That(_server.Hits(BundlePath), Is.EqualTo(3));
    }

    [Test]
    public async Task Endpoint_down_keeps_the_last_good_bundle_and_warns()
    {
        var log = new Mock<ILogger<JwtSvidAttestor>>();
        log.Setup(l => l.IsEnabled(It.IsAny<LogLevel>())).Returns(true);
        _server.Serve(BundlePath, Bundle([Es256]));
        var attestor = await StartAsync(log: log.Object);

        await _server.StopAsync();
        _f.Time.Advance(TimeSpan.FromMinutes(5));
        await Source(attestor).Refreshing;

        Assert.That((await attestor.AttestAsync(new AttestationEvidence(Token(Es256)))).Id, Is.EqualTo(Workload));
        log.Verify(l => l.Log(LogLevel.Warning, It.Is<EventId>(e => e.Id == 2006 && e.Name == "KeySetFetchFailed"),
            It.IsAny<It.IsAnyType>(), It.IsAny<Exception?>(), It.IsAny<Func<It.IsAnyType, Exception?, string>>()), Times.Once);
    }

    [Test]
    public async Task Bundle_that_is_not_strict_UTF8_is_a_clean_fetch_failure_without_a_stack_trace()
    {
        var log = new Mock<ILogger<JwtSvidAttestor>>();
        log.Setup(l => l.IsEnabled(It.IsAny<LogLevel>())).Returns(true);
        // An escaped lone surrogate: valid UTF-8 bytes on the wire, but no valid UTF-16 string.
        _server.Serve(BundlePath, Bundle([Es256]).Replace(Es256.Kid, Es256.Kid + "\\ud800", StringComparison.Ordinal));
        var attestor = await StartAsync(log: log.Object);

        var error = Assert.ThrowsAsync<BrokerException>(async () => await attestor.AttestAsync(new AttestationEvidence(Token(Es256))))!;

        Assert.That(error.Reason, Is.EqualTo(Reasons.Attestation.BundleUnavailable));
        log.Verify(l => l.Log(LogLevel.Warning, It.Is<EventId>(e => e.Id == 2006 && e.Name == "KeySetFetchFailed"),
            It.IsAny<It.IsAnyType>(), It.Is<Exception?>(e => e == null), It.IsAny<Func<It.IsAnyType, Exception?, string>>()), Times.AtLeastOnce);
        log.Verify(l => l.Log(It.IsAny<LogLevel>(), It.IsAny<EventId>(), It.IsAny<It.IsAnyType>(), It.Is<Exception?>(e => e != null),
            It.IsAny<Func<It.IsAnyType, Exception?, string>>()), Times.Never, "a hostile document is a refusal, not an exception with a stack trace");
    }

    [Test]
    public async Task Broken_document_from_the_endpoint_keeps_the_last_good_bundle()
    {
        _server.Serve(BundlePath, Bundle([Es256]));
        var attestor = await StartAsync();

        _server.Serve(BundlePath, "{\"keys\": 42}");
        _f.Time.Advance(TimeSpan.FromMinutes(5));
        await Source(attestor).Refreshing;

        Assert.That(_server.Hits(BundlePath), Is.EqualTo(2));
        Assert.That((await attestor.AttestAsync(new AttestationEvidence(Token(Es256)))).Id, Is.EqualTo(Workload));
    }

    [Test]
    public async Task Request_waits_for_a_hanging_fetch_no_longer_than_the_configured_bound()
    {
        using var hanging = new HangingHandler();
        var attestor = new JwtSvidAttestor(Options(), _f.Time, NullLogger<JwtSvidAttestor>.Instance, hanging);
        _attestors.Add(attestor);

        var attempt = attestor.AttestAsync(new AttestationEvidence(Token(Es256))).AsTask();
        Assert.That(attempt.IsCompleted, Is.False, "joined the start-up fetch that is still under way");

        _f.Time.Advance(TimeSpan.FromSeconds(2));
        var error = Assert.ThrowsAsync<BrokerException>(async () => await attempt.WaitAsync(TimeSpan.FromSeconds(30)))!;
        Assert.That(error.Reason, Is.EqualTo(Reasons.Attestation.BundleUnavailable));
    }

    [Test]
    public void Options_refuse_ambiguous_or_insecure_bundle_urls()
    {
        var options = new JwtSvidOptions
        {
            Audience = Audience,
            TrustBundles = new() { [Prod] = _f.Bundles[Prod] },
            TrustBundleUrls = new()
            {
                [Prod] = "https://spire.prod.example.org/bundle",
                ["plain.example.org"] = "http://spire.plain.example.org/bundle",
                ["relative.example.org"] = "/bundle",
                ["ftp.example.org"] = "ftp://spire.example.org/bundle",
                ["ok.example.org"] = "https://spire.ok.example.org:8443/bundle",
                ["loopback.example.org"] = "http://127.0.0.1:8080/bundle",
            },
        };

        var messages = options.Validate().ToList();

        Assert.That(messages, Has.Some.Contains("both"));
        Assert.That(messages, Has.Some.Contains("plain.example.org").And.Some.Contains("plain http"));
        Assert.That(messages, Has.Some.Contains("relative.example.org"));
        Assert.That(messages, Has.Some.Contains("ftp.example.org"));
        Assert.That(messages, Has.None.Contains("ok.example.org"));
        Assert.That(messages, Has.None.Contains("loopback.example.org"));
        Assert.That(messages, Has.Count.EqualTo(4));

        options.TrustBundleUrls.Remove(Prod);
        options.TrustBundleUrls.Remove("relative.example.org");
        options.TrustBundleUrls.Remove("ftp.example.org");
        options.AllowInsecureHttp = true;
        Assert.That(options.Validate(), Is.Empty);
        options.Refresh.UnknownKeyWait = TimeSpan.FromMinutes(1);
        Assert.That(options.Validate(), Has.One.Contains("UnknownKeyWait"));
    }

    private JwtSvidOptions Options() => new() { Audience = Audience, TrustBundleUrls = new() { [Domain] = _server.Url(BundlePath) } };

    private async Task<JwtSvidAttestor> StartAsync(ILogger<JwtSvidAttestor>? log = null)
    {
        var attestor = new JwtSvidAttestor(Options(), _f.Time, log ?? NullLogger<JwtSvidAttestor>.Instance);
        _attestors.Add(attestor);
        await Source(attestor).Refreshing;
        return attestor;
    }

    private static RefreshingKeySource Source(JwtSvidAttestor attestor) => (RefreshingKeySource)attestor.KeySources[Domain];

    private string Token(TestKey key) => _f.Token(key, subject: Workload);

    private Dictionary<string, object?> Claims() => _f.Claims(Workload);

    private static async Task AssertRefusedAsync(JwtSvidAttestor attestor, string token, string reason)
    {
        try
        {
            await attestor.AttestAsync(new AttestationEvidence(token));
            Assert.Fail("accepted");
        }
        catch (BrokerException e)
        {
            Assert.That(e.Reason, Is.EqualTo(reason));
            Assert.That(e.Failure, Is.EqualTo(BrokerFailure.Unauthenticated));
        }
    }

    /// <summary>An HTTP stack whose requests never complete (until disposed): a bundle endpoint that hangs.</summary>
    private sealed class HangingHandler : HttpMessageHandler
    {
        private readonly TaskCompletionSource<HttpResponseMessage> _never = new(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            _never.Task.WaitAsync(cancellationToken);

        protected override void Dispose(bool disposing)
        {
            _never.TrySetCanceled();
            base.Dispose(disposing);
        }
    }
}
