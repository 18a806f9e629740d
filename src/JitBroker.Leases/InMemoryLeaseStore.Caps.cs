using JitBroker.Core;

namespace JitBroker.Leases;

/// <summary>Active-lease caps (<see cref="ILeaseLedger.PutWithinCapsAsync"/>): an index of each agent's not-yet-revoked leases.</summary>
public sealed partial class InMemoryLeaseStore
{
    // Not-revoked lease ids per agent. Expired ones stay until revoked (the sweeper revokes every expired lease) and
    // are skipped by the count, which reads each lease's current expiry, so a renewal keeps the lease counted.
    private readonly Dictionary<string, HashSet<string>> _liveByAgent = new(StringComparer.Ordinal);

    /// <summary>Throws the cap's refusal when the lease's agent or task is full. Caller holds the lock.</summary>
    private void EnsureWithinCaps(Lease lease, ActiveLeaseCaps? caps)
    {
        if (caps is null || caps.IsEmpty)
        {
            return;
        }

        var live = _liveByAgent.TryGetValue(lease.AgentId, out var ids)
            ? ids.Select(id => _leases[id]).Where(l => l.State != LeaseState.Revoked && l.ExpiresAt > caps.Now).ToList()
            : [];
        if (caps.PerAgent is { } perAgent && live.Count >= perAgent)
        {
            throw ActiveLeaseCaps.AgentCapReached(perAgent);
        }

        if (caps.PerTask is { } perTask && live.Count(l => string.Equals(l.TaskId, lease.TaskId, StringComparison.Ordinal)) >= perTask)
        {
            throw ActiveLeaseCaps.TaskCapReached(perTask);
        }
    }

    /// <summary>Caller holds the lock.</summary>
    private void CountLive(Lease lease)
    {
        if (!_liveByAgent.TryGetValue(lease.AgentId, out var ids))
        {
            ids = new HashSet<string>(StringComparer.Ordinal);
            _liveByAgent[lease.AgentId] = ids;
        }

        ids.Add(lease.LeaseId);
    }

    /// <summary>Caller holds the lock.</summary>
    private void UncountLive(Lease lease)
    {
        if (_liveByAgent.TryGetValue(lease.AgentId, out var ids) && ids.Remove(lease.LeaseId) && ids.Count == 0)
        {
            _liveByAgent.Remove(lease.AgentId);
        }
    }
}
