using JitBroker.Core;

namespace JitBroker.Server.Notifications;

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
