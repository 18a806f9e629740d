using System.Diagnostics.Metrics;
using JitBroker.Core;

namespace JitBroker.Server.Ssf;

/// <summary>The transmitter's instruments, on the broker's one meter (BrokerMetrics conventions: dotted names, seconds, tag constants).</summary>
public sealed class SsfMetrics
{
    public const string TagReceiver = "receiver";
    public const string TagOutcome = BrokerMetrics.TagOutcome;

    private readonly Histogram<double> _lag;
    private readonly Counter<long> _delivered;
    private readonly Counter<long> _failures;

    public SsfMetrics(BrokerMetrics metrics)
    {
        _lag = metrics.Meter.CreateHistogram<double>("jitbroker.ssf.delivery.lag", "s", "Time from a revocation to its SET being accepted by the receiver.");
        _delivered = metrics.Meter.CreateCounter<long>("jitbroker.ssf.delivered", "{set}", "SETs accepted by receivers (202).");
        _failures = metrics.Meter.CreateCounter<long>("jitbroker.ssf.delivery.failures", "{set}",
            "Pushes that failed, by receiver and outcome: retried (5xx, timeout, redirect, other 4xx), dropped (RFC 8935 error) or expired (past retention).");
    }

    public void Delivered(string receiver, TimeSpan lag)
    {
        var tag = new KeyValuePair<string, object?>(TagReceiver, receiver);
        _delivered.Add(1, tag);
        _lag.Record(Math.Max(0, lag.TotalSeconds), tag);
    }

    public void Failed(string receiver, string outcome, long count = 1) =>
        _failures.Add(count, new KeyValuePair<string, object?>(TagReceiver, receiver), new KeyValuePair<string, object?>(TagOutcome, outcome));
}
