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
