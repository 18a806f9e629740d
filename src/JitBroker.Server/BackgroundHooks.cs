using JitBroker.Core;
using JitBroker.Core.Series;

namespace JitBroker.Server;

/// <summary>
/// Lease gauges (active, revoke_failed) and the approval queue size, refreshed in the background: a
/// metrics scrape must never wait on Redis.
/// </summary>
internal sealed class LeaseGauges(ILeaseQueries leases, ApprovalService approvals, BrokerMetrics metrics, TimeProvider time) : BackgroundService
{
    private long _active;
    private long _failed;
    private long _pendingApprovals;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        metrics.AddGauge("jitbroker.leases.active", "{lease}", "Leases currently active.", () => Interlocked.Read(ref _active));
        metrics.AddGauge(BrokerMetrics.LeasesRevokeFailed, "{lease}", "Leases whose revocation failed and is being retried.", () => Interlocked.Read(ref _failed));
        metrics.AddGauge(BrokerMetrics.ApprovalsPending, "{approval}", "Requests waiting for a human's approval.", () => Interlocked.Read(ref _pendingApprovals));
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(5), time);
        do
        {
            try
            {
                var counts = await leases.CountByStateAsync(stoppingToken);
                Interlocked.Exchange(ref _active, counts.GetValueOrDefault(LeaseState.Active));
                Interlocked.Exchange(ref _failed, counts.GetValueOrDefault(LeaseState.RevokeFailed));
                Interlocked.Exchange(ref _pendingApprovals, (await approvals.ListPendingAsync(1000, stoppingToken)).Count);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The store is down: keep the last values; /readyz reports the outage.
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}

/// <summary>Closes one interval of the console's chart series every <see cref="BrokerSeries.Interval"/>.</summary>
internal sealed class SeriesSampling(BrokerSeries series, TimeProvider time) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(BrokerSeries.Interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            series.Sample();
        }
    }
}
