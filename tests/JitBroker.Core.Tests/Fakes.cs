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

    public bool Fail { get; set; }

    public ValueTask AppendAsync(AuditEvent auditEvent, CancellationToken cancellationToken = default)
    {
        if (Fail)
        {
            throw new BrokerException(BrokerFailure.Unavailable, "audit.unavailable", "disk full");
        }

        Events.Enqueue(auditEvent);
        return Hold is { } hold ? new ValueTask(hold.Task) : ValueTask.CompletedTask;
    }

    /// <summary>While set, appends are captured at once but complete only when it does: the records are "queued, not yet stored".</summary>
    public TaskCompletionSource? Hold { get; set; }

    public IEnumerable<AuditEvent> OfType(string type) => Events.Where(e => e.Type == type);
}
