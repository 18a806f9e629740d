namespace JitBroker.Core;

/// <summary>
/// Tells people that an approval is waiting for them (webhooks, docs/notifications.md). Called by
/// <see cref="ApprovalService"/> once per approval, when it is opened — never for an identical re-sent request that got
/// the approval already open.
/// </summary>
public interface IApprovalNotifications
{
    /// <summary>
    /// Queues a notice of <paramref name="approval"/> (whose deciding rule names <paramref name="owner"/>) and returns at
    /// once: delivery happens later, elsewhere. Never throws and never blocks — the agent's request must neither wait for a
    /// webhook nor fail because of one.
    /// </summary>
    void Opened(ApprovalRecord approval, string? owner);
}

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
