using System.Collections.Concurrent;
using JitBroker.Core;

namespace JitBroker.Core.Tests;

/// <summary>
/// Records every audit event in memory and can be told to fail. The stores the pipeline talks to are the real
/// in-memory ones (JitBroker.Leases, conformance-tested); there is no in-memory <see cref="IAuditLog"/> to use instead.
/// </summary>
internal sealed class CapturingAuditLog : IAuditLog
{
    public ConcurrentQueue<AuditEvent> Events { get; } = new();

    /// <summary>The events of each call, in call order (one for <see cref="AppendAsync"/>).</summary>
    public ConcurrentQueue<string[]> Calls { get; } = new();

    public bool Fail { get; set; }

    public ValueTask AppendAsync(AuditEvent auditEvent, CancellationToken cancellationToken = default)
    {
        if (Fail)
        {
            throw new BrokerException(BrokerFailure.Unavailable, "audit.unavailable", "disk full");
        }

        Events.Enqueue(auditEvent);
        Calls.Enqueue([auditEvent.Type]);
        return Hold is { } hold ? new ValueTask(hold.Task) : ValueTask.CompletedTask;
    }

    /// <summary>Captures all at once, as the real log queues them as one unit; completes like <see cref="AppendAsync"/>.</summary>
    public ValueTask AppendManyAsync(IReadOnlyList<AuditEvent> auditEvents, CancellationToken cancellationToken = default)
    {
        if (Fail)
        {
            throw new BrokerException(BrokerFailure.Unavailable, "audit.unavailable", "disk full");
        }

        foreach (var auditEvent in auditEvents)
        {
            Events.Enqueue(auditEvent);
        }

        Calls.Enqueue([.. auditEvents.Select(e => e.Type)]);

        return Hold is { } hold ? new ValueTask(hold.Task) : ValueTask.CompletedTask;
    }

    /// <summary>While set, appends are captured at once but complete only when it does: the records are "queued, not yet stored".</summary>
    public TaskCompletionSource? Hold { get; set; }

    public IEnumerable<AuditEvent> OfType(string type) => Events.Where(e => e.Type == type);
}
