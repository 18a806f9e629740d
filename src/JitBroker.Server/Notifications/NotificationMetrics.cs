using System.Diagnostics.Metrics;
using JitBroker.Core;

namespace JitBroker.Server.Notifications;

/// <summary>Approval notifications on the broker's one meter (BrokerMetrics conventions: dotted names, seconds, tag constants).</summary>
public sealed class NotificationMetrics
{
    public const string TagWebhook = "webhook";
    public const string TagOutcome = BrokerMetrics.TagOutcome;

    /// <summary>A failed attempt that will be tried again.</summary>
    public const string Retried = "retried";

    /// <summary>The receiver refused the body for good (400, 410): not sent again.</summary>
    public const string Rejected = "rejected";

    /// <summary>Still undelivered when the approval expired: given up, since a late notice links to a dead approval.</summary>
    public const string Expired = "expired";

    /// <summary>Never queued: the delivery queue was full.</summary>
    public const string Dropped = "dropped";

    private readonly Counter<long> _delivered;
    private readonly Counter<long> _failures;
    private readonly Histogram<double> _lag;

    public NotificationMetrics(BrokerMetrics metrics, Func<int> queued)
    {
        _delivered = metrics.Meter.CreateCounter<long>("jitbroker.notifications.delivered", "{notification}", "Approval notices accepted by a webhook (2xx).");
        _failures = metrics.Meter.CreateCounter<long>("jitbroker.notifications.failures", "{notification}",
            "Approval notices not delivered, by webhook and outcome: retried (an attempt failed), rejected (400/410), expired (approval expired first), dropped (queue full).");
        _lag = metrics.Meter.CreateHistogram<double>("jitbroker.notifications.delivery.lag", "s", "Time from an approval opening to its notice being accepted.");
        metrics.Meter.CreateObservableGauge("jitbroker.notifications.queued", queued, "{notification}", "Notices waiting or in flight on this replica.");
    }

    public void Delivered(string webhook, TimeSpan lag)
    {
        var tag = new KeyValuePair<string, object?>(TagWebhook, webhook);
        _delivered.Add(1, tag);
        _lag.Record(Math.Max(0, lag.TotalSeconds), tag);
    }

    public void Failed(string webhook, string outcome) =>
        _failures.Add(1, new KeyValuePair<string, object?>(TagWebhook, webhook), new KeyValuePair<string, object?>(TagOutcome, outcome));
}
