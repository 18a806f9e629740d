using JitBroker.Core;
using JitBroker.Core.Series;
using JitBroker.Testing;
using NUnit.Framework;

namespace JitBroker.Core.Tests;

/// <summary>Issue 21: the overview's series, sampled from the broker's own meter into bounded rings.</summary>
public sealed class BrokerSeriesTests
{
    [Test]
    public void Each_sample_closes_an_interval_rates_per_minute_lag_at_its_worst_gauges_as_read()
    {
        var time = TestClock.Create();
        using var metrics = new BrokerMetrics();
        long pending = 4, failing = 2;
        metrics.AddGauge(BrokerMetrics.ApprovalsPending, "{approval}", "test", () => pending);
        metrics.AddGauge(BrokerMetrics.LeasesRevokeFailed, "{lease}", "test", () => failing);
        using var series = new BrokerSeries(metrics, time);

        for (var i = 0; i < 5; i++)
        {
            metrics.RequestCompleted("issued");
        }

        metrics.RequestCompleted("pending");
        metrics.RequestCompleted("permissiondenied");
        metrics.RevocationLag(TimeSpan.FromSeconds(3));
        metrics.RevocationLag(TimeSpan.FromSeconds(12.5));
        time.Advance(BrokerSeries.Interval);
        series.Sample();
        pending = 1;
        time.Advance(BrokerSeries.Interval);
        series.Sample();

        var s = series.Snapshot();
        Assert.That(s.IssuedPerMinute.Select(p => p.Value), Is.EqualTo(new double?[] { 30, 0 }), "5 in 10 s, then none");
        Assert.That(s.RevocationLagMaxSeconds.Select(p => p.Value), Is.EqualTo(new double?[] { 12.5, null }), "no revocation is a gap, not a zero lag");
        Assert.That(s.ApprovalsWaiting.Select(p => p.Value), Is.EqualTo(new double?[] { 4, 1 }));
        Assert.That(s.RevocationsRetrying.Select(p => p.Value), Is.EqualTo(new double?[] { 2, 2 }));
        Assert.That(s.IssuedPerMinute.Select(p => p.At), Is.EqualTo(new[] { TestClock.Start + BrokerSeries.Interval, TestClock.Start + 2 * BrokerSeries.Interval }));
    }

    [Test]
    public void Refusals_add_up_by_reason_over_the_window()
    {
        var time = TestClock.Create();
        using var metrics = new BrokerMetrics();
        using var series = new BrokerSeries(metrics, time);

        metrics.RequestRefused(Reasons.PolicyDenied);
        metrics.RequestRefused(Reasons.AgentBlocked);
        series.Sample();
        metrics.RequestRefused(Reasons.PolicyDenied);
        series.Sample();

        Assert.That(series.Snapshot().RefusalsByReason, Is.EqualTo(new Dictionary<string, long> { [Reasons.AgentBlocked] = 1, [Reasons.PolicyDenied] = 2 }));
    }

    [Test]
    public void The_rings_keep_one_hour_and_forget_what_is_older()
    {
        var time = TestClock.Create();
        using var metrics = new BrokerMetrics();
        using var series = new BrokerSeries(metrics, time);
        var points = (int)(BrokerSeries.Window / BrokerSeries.Interval);

        metrics.RequestRefused("old.reason");
        for (var i = 0; i < points + 3; i++)
        {
            time.Advance(BrokerSeries.Interval);
            series.Sample();
        }

        var s = series.Snapshot();
        Assert.That(s.IssuedPerMinute, Has.Count.EqualTo(points));
        Assert.That(s.IssuedPerMinute[0].At, Is.EqualTo(TestClock.Start + 4 * BrokerSeries.Interval));
        Assert.That(s.RefusalsByReason, Is.Empty, "the refusal fell out of the window");
    }

    [Test]
    public void Another_broker_s_meter_in_the_same_process_is_not_counted()
    {
        var time = TestClock.Create();
        using var mine = new BrokerMetrics();
        using var other = new BrokerMetrics();
        using var series = new BrokerSeries(mine, time);

        other.RequestCompleted("issued");
        other.RequestRefused(Reasons.PolicyDenied);
        mine.RequestCompleted("issued");
        time.Advance(TimeSpan.FromMinutes(1));
        series.Sample();

        var s = series.Snapshot();
        Assert.That(s.IssuedPerMinute.Single().Value, Is.EqualTo(1));
        Assert.That(s.RefusalsByReason, Is.Empty);
    }

    [Test]
    public void A_refused_request_is_counted_under_its_reason_code()
    {
        var f = new PipelineFixture();
        using var series = new BrokerSeries(f.Metrics, f.Time);
        f.Decide = (_, _) => new PolicyDecision(DecisionEffect.Deny, null, ["deny-rule"], "no");

        Assert.ThrowsAsync<BrokerException>(() => f.IssueAsync());
        series.Sample();

        Assert.That(series.Snapshot().RefusalsByReason, Is.EqualTo(new Dictionary<string, long> { [Reasons.PolicyDenied] = 1 }));
    }
}
