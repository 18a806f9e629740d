using JitBroker.Core;

namespace JitBroker.Leases;

/// <summary>Bulk revocation (<see cref="IRevocationSchedule"/>): the in-process twin of the Redis scripts.</summary>
public sealed partial class InMemoryLeaseStore
{
    /// <summary>How long a batch's progress record is kept after it was scheduled.</summary>
    public static readonly TimeSpan BatchRetention = TimeSpan.FromDays(1);

    private readonly Dictionary<string, string> _batchOf = new(StringComparer.Ordinal);
    private readonly Dictionary<string, BatchCounters> _batches = new(StringComparer.Ordinal);

    public Task<IReadOnlyList<string>> ListAgentsAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            IReadOnlyList<string> agents = [.. _byTask.Keys.Select(k => k.AgentId).Distinct(StringComparer.Ordinal)];
            return Task.FromResult(agents);
        }
    }

    public Task<RevocationBatch> ScheduleAgentsAsync(IReadOnlyCollection<string> agentIds, DateTimeOffset now, string? batchId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(agentIds);
        cancellationToken.ThrowIfCancellationRequested();
        var agents = agentIds.ToHashSet(StringComparer.Ordinal);
        lock (_gate)
        {
            var roots = _byTask.Where(kv => agents.Contains(kv.Key.AgentId)).SelectMany(kv => kv.Value).ToList();
            return Task.FromResult(Schedule(roots, now, batchId));
        }
    }

    public Task<RevocationBatch> ScheduleLeasesAsync(IReadOnlyCollection<string> leaseIds, DateTimeOffset now, string? batchId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(leaseIds);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            return Task.FromResult(Schedule(leaseIds, now, batchId));
        }
    }

    public Task<RevocationProgress?> GetProgressAsync(string batchId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batchId);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            return Task.FromResult(_batches.TryGetValue(batchId, out var b) ? new RevocationProgress(batchId, b.Total, b.Revoked, b.Failing) : null);
        }
    }

    public Task<long> ScheduleOrphansAsync(DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            long scheduled = 0;
            foreach (var (parentId, children) in _byParent.ToList())
            {
                if (_leases.GetValueOrDefault(parentId)?.State == LeaseState.Active)
                {
                    continue;
                }

                foreach (var childId in children.ToList())
                {
                    scheduled += ScheduleOne(_leases[childId], now, batchId: null) ? 1 : 0;
                }
            }

            return Task.FromResult(scheduled);
        }
    }

    /// <summary>Breadth first over the roots and their descendants, each once. Caller holds the lock.</summary>
    private RevocationBatch Schedule(IEnumerable<string> roots, DateTimeOffset now, string? batchId)
    {
        PruneBatches(now);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var queue = new Queue<string>(roots.Where(seen.Add));
        long scheduled = 0, inProgress = 0, revoked = 0, failing = 0;
        while (queue.TryDequeue(out var id))
        {
            if (!_leases.TryGetValue(id, out var lease))
            {
                continue;
            }

            if (lease.State == LeaseState.Revoked)
            {
                revoked++;
            }
            else
            {
                _ = ScheduleOne(lease, now, batchId) ? scheduled++ : inProgress++;
                failing += lease.Attempts > 0 ? 1 : 0;
            }

            foreach (var child in _byParent.GetValueOrDefault(id) ?? [])
            {
                if (seen.Add(child))
                {
                    queue.Enqueue(child);
                }
            }
        }

        if (batchId is not null)
        {
            var counters = _batches.TryGetValue(batchId, out var existing) ? existing : _batches[batchId] = new BatchCounters(now);
            counters.Total += scheduled + inProgress;
            counters.Failing += failing;
        }

        return new RevocationBatch(batchId, scheduled, inProgress, revoked);
    }

    /// <summary>
    /// Active and failed leases become revoking and due now (any sweeper claims them at once); a lease already
    /// revoking keeps its claim. Returns true when the lease was moved. Caller holds the lock.
    /// </summary>
    private bool ScheduleOne(Lease lease, DateTimeOffset now, string? batchId)
    {
        if (lease.State == LeaseState.Revoked)
        {
            return false;
        }

        if (batchId is not null)
        {
            _batchOf[lease.LeaseId] = batchId;
        }

        if (lease.State == LeaseState.Revoking)
        {
            return false;
        }

        Replace(lease, lease with { State = LeaseState.Revoking, DueAt = now });
        return true;
    }

    /// <summary>A revoked parent takes its children with it. Caller holds the lock.</summary>
    private void ScheduleChildren(string parentId, DateTimeOffset now)
    {
        foreach (var child in _byParent.GetValueOrDefault(parentId) ?? [])
        {
            ScheduleOne(_leases[child], now, batchId: null);
        }
    }

    /// <summary>Caller holds the lock; <paramref name="lease"/> is the copy before it was marked revoked.</summary>
    private void CountRevoked(Lease lease)
    {
        if (_batchOf.Remove(lease.LeaseId, out var batchId) && _batches.TryGetValue(batchId, out var b))
        {
            b.Revoked++;
            b.Failing -= lease.Attempts > 0 ? 1 : 0;
        }
    }

    /// <summary>Caller holds the lock; counts a batch's lease as failing on its first failure only.</summary>
    private void CountFailed(Lease lease)
    {
        if (lease.Attempts == 0 && _batchOf.TryGetValue(lease.LeaseId, out var batchId) && _batches.TryGetValue(batchId, out var b))
        {
            b.Failing++;
        }
    }

    private void PruneBatches(DateTimeOffset now)
    {
        foreach (var (id, b) in _batches.Where(kv => kv.Value.CreatedAt + BatchRetention < now).ToList())
        {
            _batches.Remove(id);
        }
    }

    private static BrokerException ParentNotActive(string parentId) =>
        new(BrokerFailure.FailedPrecondition, Reasons.ParentLeaseNotActive, $"Parent lease '{parentId}' is no longer active.");

    private sealed class BatchCounters(DateTimeOffset createdAt)
    {
        public DateTimeOffset CreatedAt { get; } = createdAt;
        public long Total { get; set; }
        public long Revoked { get; set; }
        public long Failing { get; set; }
    }
}
