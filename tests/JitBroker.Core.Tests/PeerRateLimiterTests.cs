using JitBroker.Core.Admission;
using JitBroker.Testing;
using NUnit.Framework;

namespace JitBroker.Core.Tests;

/// <summary>Issue 17 item 3: the per-peer token bucket taken before attestation.</summary>
public sealed class PeerRateLimiterTests
{
    [Test]
    public void A_peer_gets_its_burst_then_is_refused_until_the_bucket_refills()
    {
        var time = TestClock.Create();
        var limiter = new PeerRateLimiter(new AdmissionOptions { PeerFailuresPerSecond = 10, PeerBurst = 5 }, time);

        var burst = Enumerable.Range(0, 8).Select(_ => limiter.TryAcquire("10.0.0.1")).ToList();
        Assert.That(burst.Count(granted => granted), Is.EqualTo(5));
        Assert.That(limiter.TryAcquire("10.0.0.2"), Is.True, "another peer has its own bucket");

        time.Advance(TimeSpan.FromMilliseconds(250)); // 2.5 tokens at 10/s
        Assert.That(Enumerable.Range(0, 4).Count(_ => limiter.TryAcquire("10.0.0.1")), Is.EqualTo(2));
    }

    [Test]
    public void A_known_peers_call_allocates_nothing()
    {
        // Every agent call passes the limiter: a found bucket must cost no closure or other object per call.
        var limiter = new PeerRateLimiter(new AdmissionOptions { PeerFailuresPerSecond = 10, PeerBurst = 5 }, TestClock.Create());
        for (var i = 0; i < 1_000; i++) // the bucket exists and the code is compiled before measuring
        {
            Assert.That(limiter.TryAcquire("10.0.0.1"), Is.True);
            limiter.Refund("10.0.0.1");
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1_000; i++)
        {
            limiter.TryAcquire("10.0.0.1");
            limiter.Refund("10.0.0.1");
        }

        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }

    [Test]
    public void Calls_that_give_their_token_back_never_drain_the_bucket()
    {
        var limiter = new PeerRateLimiter(new AdmissionOptions { PeerFailuresPerSecond = 1, PeerBurst = 2 }, TestClock.Create());

        for (var i = 0; i < 100; i++)
        {
            Assert.That(limiter.TryAcquire("nat"), Is.True, "an attested call returns its token");
            limiter.Refund("nat");
        }

        Assert.That(Enumerable.Range(0, 5).Count(_ => limiter.TryAcquire("nat")), Is.EqualTo(2), "failures (kept tokens) still hit the burst");
    }

    [Test]
    public void Many_addresses_cannot_grow_the_peer_table_beyond_its_cap()
    {
        var time = TestClock.Create();
        var limiter = new PeerRateLimiter(new AdmissionOptions { PeerFailuresPerSecond = 1, PeerBurst = 1, MaxTrackedPeers = 16 }, time);

        var granted = Enumerable.Range(0, 1000).Count(i => limiter.TryAcquire("10.1." + (i / 256) + "." + (i % 256)));

        Assert.That(limiter.TrackedPeers, Is.LessThanOrEqualTo(17), "16 peers plus the shared overflow bucket");
        Assert.That(granted, Is.EqualTo(17), "the overflow peers share one bucket, so the flood is limited as one peer");
    }

    [Test]
    public void Idle_peers_are_forgotten_to_make_room()
    {
        var time = TestClock.Create();
        var limiter = new PeerRateLimiter(new AdmissionOptions { PeerFailuresPerSecond = 10, PeerBurst = 1, MaxTrackedPeers = 16 }, time);
        for (var i = 0; i < 16; i++)
        {
            limiter.TryAcquire("old-" + i);
        }

        time.Advance(TimeSpan.FromSeconds(1));

        Assert.That(limiter.TryAcquire("new"), Is.True);
        Assert.That(limiter.TryAcquire("new-2"), Is.True, "refilled peers made room: new peers get their own buckets");
        Assert.That(limiter.TrackedPeers, Is.EqualTo(2));
    }

    [TestCase(0, 10, 10_000, 60, 64, 3, "PeerFailuresPerSecond")]
    [TestCase(100, 5, 10_000, 60, 64, 3, "PeerBurst")]
    [TestCase(100, 200, 2, 60, 64, 3, "MaxTrackedPeers")]
    [TestCase(100, 200, 10_000, 0, 64, 3, "FailureSummaryInterval")]
    [TestCase(100, 200, 10_000, 60, 0, 3, "FailureSummaryMaxKeys")]
    [TestCase(100, 200, 10_000, 60, 64, -1, "FailureSummarySamples")]
    public void Nonsense_settings_are_refused_by_name(double rate, int burst, int peers, int intervalSeconds, int keys, int samples, string key)
    {
        var options = new AdmissionOptions
        {
            PeerFailuresPerSecond = rate, PeerBurst = burst, MaxTrackedPeers = peers,
            FailureSummaryInterval = TimeSpan.FromSeconds(intervalSeconds), FailureSummaryMaxKeys = keys, FailureSummarySamples = samples,
        };

        Assert.That(options.Validate(), Has.One.StartsWith($"{AdmissionOptions.SectionPath}:{key} "));
        Assert.That(new AdmissionOptions().Validate(), Is.Empty, "the defaults are valid");
    }
}
