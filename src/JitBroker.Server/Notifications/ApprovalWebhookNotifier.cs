using System.Collections.Concurrent;
using System.Threading.Channels;
using JitBroker.Core;

namespace JitBroker.Server.Notifications;

/// <summary>
/// Sends a notice to every configured webhook when an approval opens, off the request path: <see cref="Opened"/> only
/// queues (bounded: past <see cref="NotificationSettings.QueueCapacity"/> deliveries waiting or in flight a notice is
/// dropped and counted). Each delivery retries with capped, jittered backoff until the approval expires — a notice that
/// arrives after that links to nothing an approver can act on — and a failing webhook never holds up another. In memory,
/// per replica: a notice still queued when the replica stops is lost (the approval itself is not; docs/notifications.md).
/// </summary>
public sealed partial class ApprovalWebhookNotifier : BackgroundService, IApprovalNotifications, INotificationStatus
{
    private readonly Channel<Delivery> _queue = Channel.CreateUnbounded<Delivery>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<Delivery, Task> _running = new();
    private readonly IReadOnlyList<WebhookCounters> _webhooks;
    private readonly WebhookSender _sender;
    private readonly NotificationSettings _settings;
    private readonly RetryBackoff _backoff;
    private readonly SemaphoreSlim _inFlight;
    private readonly NotificationMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<ApprovalWebhookNotifier> _log;
    private int _queued;
    private int _disposed;

    public ApprovalWebhookNotifier(IReadOnlyList<WebhookTarget> targets, WebhookSender sender, NotificationSettings settings, BrokerMetrics metrics,
        TimeProvider time, ILogger<ApprovalWebhookNotifier> log)
    {
        _webhooks = [.. targets.Select(t => new WebhookCounters(t))];
        _sender = sender;
        _settings = settings;
        _backoff = new RetryBackoff(settings.RetryInitialDelay, settings.RetryMaxDelay);
        _inFlight = new SemaphoreSlim(settings.MaxParallelDeliveries);
        _metrics = new NotificationMetrics(metrics, () => Volatile.Read(ref _queued));
        _time = time;
        _log = log;
        foreach (var target in targets)
        {
            LogConfigured(log, target.Name, target.Kind, target.Endpoint);
        }
    }

    public bool Enabled => true;

    public int Queued => Volatile.Read(ref _queued);

    public int QueueCapacity => _settings.QueueCapacity;

    public IReadOnlyList<WebhookStatus> Webhooks => [.. _webhooks.Select(w => w.Snapshot())];

    public void Opened(ApprovalRecord approval, string? owner)
    {
        try
        {
            var notice = ApprovalNotice.Opened(approval, owner, _settings.ConsoleBaseUrl!);
            foreach (var webhook in _webhooks)
            {
                if (Interlocked.Increment(ref _queued) > _settings.QueueCapacity)
                {
                    Interlocked.Decrement(ref _queued);
                    webhook.Dropped();
                    _metrics.Failed(webhook.Target.Name, NotificationMetrics.Dropped);
                    LogDropped(_log, approval.ApprovalId, webhook.Target.Name, _settings.QueueCapacity);
                    continue;
                }

                _queue.Writer.TryWrite(new Delivery(webhook, notice));
            }
        }
        catch (Exception ex)
        {
            // The contract: never fail the agent's request over a notification.
            LogQueueFailed(_log, approval.ApprovalId, ex);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var delivery in _queue.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
            {
                var running = Task.Run(() => DeliverAsync(delivery, stoppingToken), CancellationToken.None);
                _running[delivery] = running;
                // Registered after the add, so a delivery that already finished is still removed.
                _ = running.ContinueWith(t => _running.TryRemove(delivery, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: what is still queued is lost with this replica's memory.
        }

        await Task.WhenAll(_running.Values).ConfigureAwait(false);
    }

    private async Task DeliverAsync(Delivery delivery, CancellationToken cancellationToken)
    {
        var (webhook, notice) = delivery;
        var name = webhook.Target.Name;
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                if (_time.GetUtcNow() >= notice.Approval.ExpiresAt)
                {
                    GiveUp(webhook, notice, attempt - 1);
                    return;
                }

                DeliveryResult result;
                await _inFlight.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    result = await _sender.SendAsync(webhook.Target, notice, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    _inFlight.Release();
                }

                var now = _time.GetUtcNow();
                switch (result.Outcome)
                {
                    case DeliveryOutcome.Delivered:
                        webhook.Delivered(now);
                        _metrics.Delivered(name, now - notice.Approval.CreatedAt);
                        LogDelivered(_log, notice.Approval.ApprovalId, name, attempt);
                        return;
                    case DeliveryOutcome.Rejected:
                        webhook.Failed(result.Detail, now, rejected: true);
                        _metrics.Failed(name, NotificationMetrics.Rejected);
                        LogRejected(_log, notice.Approval.ApprovalId, name, result.Detail);
                        return;
                }

                webhook.Failed(result.Detail, now, rejected: false);
                _metrics.Failed(name, NotificationMetrics.Retried);
                var next = now + _backoff.DelayFor(attempt);
                if (next >= notice.Approval.ExpiresAt)
                {
                    GiveUp(webhook, notice, attempt);
                    return;
                }

                LogRetrying(_log, notice.Approval.ApprovalId, name, result.Detail, attempt, next);
                await Task.Delay(next - now, _time, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping.
        }
        catch (Exception ex)
        {
            LogDeliveryFailed(_log, notice.Approval.ApprovalId, name, ex);
        }
        finally
        {
            Interlocked.Decrement(ref _queued);
        }
    }

    private void GiveUp(WebhookCounters webhook, ApprovalNotice notice, int attempts)
    {
        webhook.Expired();
        _metrics.Failed(webhook.Target.Name, NotificationMetrics.Expired);
        LogExpired(_log, notice.Approval.ApprovalId, webhook.Target.Name, attempts, webhook.Snapshot().LastError ?? "none");
    }

    /// <summary>Idempotent: the container disposes it once per interface it is registered under.</summary>
    public override void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _sender.Dispose();
        _inFlight.Dispose();
        base.Dispose();
    }

    /// <summary>A class, not a record: two deliveries are never the same one, whatever they carry.</summary>
    private sealed class Delivery(WebhookCounters webhook, ApprovalNotice notice)
    {
        public void Deconstruct(out WebhookCounters w, out ApprovalNotice n) => (w, n) = (webhook, notice);
    }

    [LoggerMessage(EventId = 177, EventName = "NotificationWebhookConfigured", Level = LogLevel.Information,
        Message = "Approval notices go to webhook {Webhook} ({Kind}) at {Endpoint}")]
    private static partial void LogConfigured(ILogger logger, string webhook, string kind, string endpoint);

    [LoggerMessage(EventId = 170, EventName = "NotificationDropped", Level = LogLevel.Warning,
        Message = "The notice of approval {ApprovalId} for webhook {Webhook} was dropped: {Capacity} deliveries are already queued")]
    private static partial void LogDropped(ILogger logger, string approvalId, string webhook, int capacity);

    [LoggerMessage(EventId = 171, EventName = "NotificationRetrying", Level = LogLevel.Warning,
        Message = "The notice of approval {ApprovalId} was not delivered to webhook {Webhook} ({Error}); attempt {Attempt} failed, next at {NextAttemptAt:O}")]
    private static partial void LogRetrying(ILogger logger, string approvalId, string webhook, string error, int attempt, DateTimeOffset nextAttemptAt);

    [LoggerMessage(EventId = 172, EventName = "NotificationExpired", Level = LogLevel.Error,
        Message = "The notice of approval {ApprovalId} was never delivered to webhook {Webhook}: the approval expires before another attempt ({Attempts} made, last error: {LastError})")]
    private static partial void LogExpired(ILogger logger, string approvalId, string webhook, int attempts, string lastError);

    [LoggerMessage(EventId = 173, EventName = "NotificationRejected", Level = LogLevel.Error,
        Message = "Webhook {Webhook} refused the notice of approval {ApprovalId} ({Detail}); it is not sent again")]
    private static partial void LogRejected(ILogger logger, string approvalId, string webhook, string detail);

    [LoggerMessage(EventId = 174, EventName = "NotificationDelivered", Level = LogLevel.Debug,
        Message = "The notice of approval {ApprovalId} was delivered to webhook {Webhook} (attempt {Attempt})")]
    private static partial void LogDelivered(ILogger logger, string approvalId, string webhook, int attempt);

    [LoggerMessage(EventId = 175, EventName = "NotificationDeliveryFailed", Level = LogLevel.Error,
        Message = "Delivering the notice of approval {ApprovalId} to webhook {Webhook} failed unexpectedly; it is not retried")]
    private static partial void LogDeliveryFailed(ILogger logger, string approvalId, string webhook, Exception exception);

    [LoggerMessage(EventId = 176, EventName = "NotificationQueueFailed", Level = LogLevel.Error,
        Message = "The notice of approval {ApprovalId} could not be queued; the approval itself is open")]
    private static partial void LogQueueFailed(ILogger logger, string approvalId, Exception exception);
}
