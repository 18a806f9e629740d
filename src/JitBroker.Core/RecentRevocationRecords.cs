using System.Collections.Concurrent;

namespace JitBroker.Core;

/// <summary>
/// The lease ids whose <c>lease.revoked</c> record this process stored, the most recent <see cref="Capacity"/> of them.
/// </summary>
/// <remarks>
/// Why: after a Redis failover the new primary may lack what the old one acknowledged without a replica — the outbox
/// acknowledgement of a record, the record's entry in the audit mirror, or the revoked mark itself. The recovery
/// would then find the entry unaudited and the mirror silent and write the record again, or the sweeper would revoke
/// the lease again and record it again: two <c>lease.revoked</c> for one revocation (seen in
/// <c>SentinelFailoverTests</c>). The process that wrote the record still knows it did; that knowledge is bounded
/// (oldest forgotten first) because such a failover is found within one recovery pass, seconds later.
/// <para>
/// The size is kept in a counter of its own: <c>ConcurrentDictionary.Count</c> takes every one of the map's locks
/// (up to 1,024 once it has grown), and calling it on every add made this class half of the sweeper's CPU at
/// 10,000 revocations a second (docs/benchmarks.md, "Where the revocation lag went").
/// </para>
/// </remarks>
internal sealed class RecentRevocationRecords(int capacity)
{
    private readonly ConcurrentDictionary<string, byte> _ids = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _order = new();
    private int _count;

    public int Capacity { get; } = capacity > 0 ? capacity : throw new ArgumentOutOfRangeException(nameof(capacity));

    /// <summary>Ids remembered now (at most <see cref="Capacity"/> once every add has finished trimming).</summary>
    public int Count => Volatile.Read(ref _count);

    public bool Contains(string leaseId) => _ids.ContainsKey(leaseId);

    /// <summary>Claims <paramref name="leaseId"/> for a record about to be written; false when one was written (or is being written).</summary>
    public bool TryAdd(string leaseId)
    {
        if (!_ids.TryAdd(leaseId, 0))
        {
            return false;
        }

        _order.Enqueue(leaseId);
        // Only a successful removal counts down: an id given back by Remove (or re-added since) leaves a stale queue
        // entry whose removal finds nothing or takes the newer claim early — never more than Capacity remembered.
        if (Interlocked.Increment(ref _count) > Capacity)
        {
            while (Volatile.Read(ref _count) > Capacity && _order.TryDequeue(out var oldest))
            {
                if (_ids.TryRemove(oldest, out _))
                {
                    Interlocked.Decrement(ref _count);
                }
            }
        }

        return true;
    }

    /// <summary>Gives the claim back: the record could not be written.</summary>
    public void Remove(string leaseId)
    {
        if (_ids.TryRemove(leaseId, out _))
        {
            Interlocked.Decrement(ref _count);
        }
    }
}
