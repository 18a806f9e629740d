namespace JitBroker.Core;

/// <summary>
/// Tells this process's sweeper that a write just put a lease on the schedule at <c>dueAt</c> (a new lease at its expiry,
/// a scheduled revocation now, a retry at its next attempt), so it wakes then instead of at its next planned look. Stores
/// raise it after the write is stored. Writes by other replicas are not signalled here; the sweeper's bounded sleep
/// (<c>Revocation:SweepInterval</c>) catches those.
/// </summary>
public interface ILeaseDueSignal
{
    /// <summary>Cheap and never blocks: called on the request path, once per write that schedules something.</summary>
    void LeaseDue(DateTimeOffset dueAt);
}
