using JitBroker.Core.Admission;
using JitBroker.Core.Handlers;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;
using NUnit.Framework;

namespace JitBroker.Core.Tests;

/// <summary>
/// Issue 17 item 3: a caller that does not attest costs a counter, not an audit record. Failures are written once per
/// interval, per reason and peer, with fingerprints as samples — never the token — and never in the caller's path.
/// </summary>
public sealed class AttestationFailureSummaryTests
{
    private static BrokerFixture Rejecting(string reason = "token.expired")
    {
        var f = new BrokerFixture();
        f.Attestor.Setup(a => a.AttestAsync(It.IsAny<AttestationEvidence>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new BrokerException(BrokerFailure.Unauthenticated, reason, "rejected"));
        return f;
    }

    private static long Count(AuditEvent e) => long.Parse(e.Detail!.Split(' ')[0]["count=".Length..], System.Globalization.CultureInfo.InvariantCulture);

    [Test]
    public async Task A_thousand_failed_attestations_become_one_record_per_reason_and_peer_with_fingerprint_samples()
    {
        var f = Rejecting();
        var handler = f.RequestHandler();
        for (var i = 0; i < 1000; i++)
        {
            Assert.ThrowsAsync<BrokerException>(() => handler.HandleAsync(BrokerFixture.Evidence("10.0.0.1"), BrokerFixture.Request()).AsTask());
        }

        for (var i = 0; i < 10; i++)
        {
            Assert.ThrowsAsync<BrokerException>(() => handler.HandleAsync(BrokerFixture.Evidence("10.0.0.2"), BrokerFixture.Request()).AsTask());
        }

        Assert.That(f.Audit.Events, Is.Empty, "nothing is audited per failed call");
        await f.Failures.FlushAsync();

        var summaries = f.Audit.OfType(AuditEventTypes.AttestationFailures).ToList();
        Assert.That(summaries.Select(s => (s.Actor, s.Reason, Count(s))),
            Is.EqualTo(new[] { ("10.0.0.1", "token.expired", 1000L), ("10.0.0.2", "token.expired", 10L) }));
        Assert.That(summaries.Select(s => s.CredentialFingerprint), Is.All.EqualTo(Fingerprints.Of(BrokerFixture.Token)));
        Assert.That(summaries[0].Detail, Does.EndWith("samples=" + Fingerprints.Of(BrokerFixture.Token)).And.Not.Contain(BrokerFixture.Token));
        Assert.That(f.Audit.Events, Has.Count.EqualTo(2), "one record per (reason, peer), nothing else");

        await f.Failures.FlushAsync();
        Assert.That(f.Audit.Events, Has.Count.EqualTo(2), "an interval without failures writes nothing");
    }

    [Test]
    public async Task A_failed_attestation_is_answered_even_while_the_audit_log_hangs()
    {
        var f = Rejecting();
        var hanging = new Mock<IAuditLog>();
        hanging.Setup(a => a.AppendAsync(It.IsAny<AuditEvent>(), It.IsAny<CancellationToken>()))
            .Returns(new ValueTask(new TaskCompletionSource().Task));
        var failures = new AttestationFailureSummary(new BestEffortAudit(hanging.Object, NullLogger<BestEffortAudit>.Instance), new AdmissionOptions(),
            f.Time, NullLogger<AttestationFailureSummary>.Instance);
        var admission = new AgentAdmission(new AttestorRegistry([f.Attestor.Object]), new ReplayGuard(f.Replay, f.Options, f.Time), f.KillSwitch,
            new BestEffortAudit(hanging.Object, NullLogger<BestEffortAudit>.Instance), new BrokerMetrics(), failures, f.Time);

        var attempt = admission.AttestAsync(BrokerFixture.Evidence("10.0.0.1")).AsTask();

        Assert.That(await Task.WhenAny(attempt, Task.Delay(TimeSpan.FromSeconds(5))), Is.SameAs(attempt), "the rejection does not wait on the audit queue");
        Assert.That(attempt.Exception?.InnerException, Is.TypeOf<BrokerException>().With.Property(nameof(BrokerException.Reason)).EqualTo("token.expired"));
        hanging.Verify(a => a.AppendAsync(It.IsAny<AuditEvent>(), It.IsAny<CancellationToken>()), Times.Never);
    }

    [Test]
    public async Task Pairs_beyond_the_cap_are_counted_together_under_peer_star()
    {
        var f = Rejecting();
        f.AdmissionOptions.FailureSummaryMaxKeys = 2;
        var failures = new AttestationFailureSummary(new BestEffortAudit(f.Audit, NullLogger<BestEffortAudit>.Instance), f.AdmissionOptions, f.Time,
            NullLogger<AttestationFailureSummary>.Instance);
        foreach (var peer in new[] { "a", "b", "c", "d", "e", "c" })
        {
            failures.Record("token.expired", peer, null);
        }

        await failures.FlushAsync();

        Assert.That(f.Audit.Events.Select(e => (e.Actor, Count(e))),
            Is.EquivalentTo(new[] { ("a", 1L), ("b", 1L), (AttestationFailureSummary.OtherPeers, 4L) }));
    }

    [Test]
    public async Task Samples_are_distinct_fingerprints_up_to_the_configured_number()
    {
        var f = new BrokerFixture();
        f.AdmissionOptions.FailureSummarySamples = 2;
        var failures = new AttestationFailureSummary(new BestEffortAudit(f.Audit, NullLogger<BestEffortAudit>.Instance), f.AdmissionOptions, f.Time,
            NullLogger<AttestationFailureSummary>.Instance);
        foreach (var token in new[] { "t1", "t1", "t2", "t3" })
        {
            failures.Record("token.malformed", "p", Fingerprints.Of(token));
        }

        await failures.FlushAsync();

        Assert.That(f.Audit.Events.Single().Detail, Does.EndWith($"samples={Fingerprints.Of("t1")},{Fingerprints.Of("t2")}"));
    }

    [Test]
    public async Task The_loop_writes_a_summary_each_interval_and_a_last_one_on_stop()
    {
        var f = new BrokerFixture();
        f.AdmissionOptions.FailureSummaryInterval = TimeSpan.FromSeconds(10);
        var failures = new AttestationFailureSummary(new BestEffortAudit(f.Audit, NullLogger<BestEffortAudit>.Instance), f.AdmissionOptions, f.Time,
            NullLogger<AttestationFailureSummary>.Instance);
        using var stop = new CancellationTokenSource();
        var loop = failures.RunAsync(stop.Token);

        failures.Record("token.expired", "p", null);
        f.Time.Advance(TimeSpan.FromSeconds(10));
        Assert.That(await EventuallyAsync(() => f.Audit.Events.Count == 1), Is.True, "the first interval's summary");

        failures.Record("token.expired", "p", null);
        await stop.CancelAsync();
        await loop.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(f.Audit.Events, Has.Count.EqualTo(2), "the unfinished interval is written on stop");
    }

    private static async Task<bool> EventuallyAsync(Func<bool> condition)
    {
        for (var i = 0; i < 200 && !condition(); i++)
        {
            await Task.Delay(25);
        }

        return condition();
    }
}
