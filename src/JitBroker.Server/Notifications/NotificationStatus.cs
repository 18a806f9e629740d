namespace JitBroker.Server.Notifications;

/// <summary>
/// How approval notifications are doing on this replica, for the console (and anyone else in the host): always registered,
/// <see cref="Enabled"/> false when no webhook is configured. Counters start at zero when the replica starts; metrics
/// (<c>jitbroker.notifications.*</c>) are the fleet-wide view.
/// </summary>
public interface INotificationStatus
{
    bool Enabled { get; }

    /// <summary>Deliveries waiting (for a retry) or in flight, all webhooks together; at most <see cref="QueueCapacity"/>.</summary>
    int Queued { get; }

    int QueueCapacity { get; }

    /// <summary>One entry per configured webhook, in configuration order. Endpoints are scheme, host and port only.</summary>
    IReadOnlyList<WebhookStatus> Webhooks { get; }
}

/// <param name="FailedAttempts">Attempts that failed and were retried (5xx, timeout, redirect, refused connection, other 4xx).</param>
/// <param name="ConsecutiveFailures">Failed attempts since the last delivery: 0 means healthy.</param>
/// <param name="LastError">What the last failed attempt got (<c>HTTP 500</c>, <c>HTTP 302 (redirects are not followed)</c>, <c>no answer within 10 s</c>, …) — never a URL or secret.</param>
public sealed record WebhookStatus(
    string Name, string Kind, string Endpoint, long Delivered, long FailedAttempts, long Rejected, long Expired, long Dropped,
    int ConsecutiveFailures, string? LastError, DateTimeOffset? LastErrorAt, DateTimeOffset? LastDeliveredAt);

/// <summary>Per-webhook counters, updated by the delivery tasks; a snapshot is taken under a lock per webhook.</summary>
internal sealed class WebhookCounters(WebhookTarget target)
{
    private readonly Lock _lock = new();
    private long _delivered, _failed, _rejected, _expired, _dropped;
    private int _consecutive;
    private string? _lastError;
    private DateTimeOffset? _lastErrorAt, _lastDeliveredAt;

    public WebhookTarget Target => target;

    public void Delivered(DateTimeOffset at)
    {
        lock (_lock)
        {
            _delivered++;
            _consecutive = 0;
            _lastDeliveredAt = at;
        }
    }

    public void Failed(string error, DateTimeOffset at, bool rejected)
    {
        lock (_lock)
        {
            if (rejected)
            {
                _rejected++;
            }
            else
            {
                _failed++;
            }

            _consecutive++;
            _lastError = error;
            _lastErrorAt = at;
        }
    }

    public void Expired()
    {
        lock (_lock)
        {
            _expired++;
        }
    }

    public void Dropped()
    {
        lock (_lock)
        {
            _dropped++;
        }
    }

    public WebhookStatus Snapshot()
    {
        lock (_lock)
        {
            return new WebhookStatus(target.Name, target.Kind, target.Endpoint, _delivered, _failed, _rejected, _expired, _dropped, _consecutive,
                _lastError, _lastErrorAt, _lastDeliveredAt);
        }
    }
}

/// <summary>What the host registers when no webhook is configured.</summary>
internal sealed class DisabledNotificationStatus : INotificationStatus
{
    public bool Enabled => false;

    public int Queued => 0;

    public int QueueCapacity => 0;

    public IReadOnlyList<WebhookStatus> Webhooks => [];
}
