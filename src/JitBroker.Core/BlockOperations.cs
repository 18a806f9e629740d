namespace JitBroker.Core;

/// <summary>One kill-switch block as started on this replica; <see cref="Id"/> is the revocation batch id of its leases.</summary>
public sealed record BlockOperation(string Id, string Pattern, string Reason, string Actor, DateTimeOffset StartedAt, RevokeSummary Scheduled);

/// <summary>
/// How far a block's bulk revocation got: <see cref="Total"/> leases to revoke, <see cref="Revoked"/> done,
/// <see cref="Failed"/> failing now (retried without an attempt limit, so they still count towards done later).
/// <see cref="Operation"/> and <see cref="FinishedAt"/> are known only on the replica that started the block.
/// </summary>
public sealed record BlockProgress(string Id, BlockOperation? Operation, long Total, long Revoked, long Failed, DateTimeOffset? FinishedAt)
{
    public bool IsDone => Revoked >= Total;
}

/// <summary>
/// The kill switch's progress for pages: the counts come from the revocation schedule (<see cref="IRevocationSchedule.GetProgressAsync"/>,
/// shared by every replica, so any replica answers them); who started a block, why and when lives in this replica's memory,
/// for the last <see cref="Capacity"/> blocks started here. The finish time is the first time a reader saw the batch done —
/// the schedule does not stamp it — so it is as precise as the page's refresh.
/// </summary>
public sealed class BlockOperations
{
    public const int Capacity = 200;

    private readonly IRevocationSchedule _schedule;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();

    public BlockOperations(IRevocationSchedule schedule, TimeProvider time)
    {
        _schedule = schedule;
        _time = time;
    }

    /// <summary>Remembers a block this replica started; the oldest is forgotten beyond <see cref="Capacity"/>.</summary>
    public void Started(BlockOperation operation)
    {
        lock (_gate)
        {
            if (!_entries.TryAdd(operation.Id, new Entry(operation)))
            {
                return;
            }

            _order.Enqueue(operation.Id);
            while (_order.Count > Capacity)
            {
                _entries.Remove(_order.Dequeue());
            }
        }
    }

    /// <summary>Blocks started on this replica, newest first.</summary>
    public IReadOnlyList<BlockOperation> Recent()
    {
        lock (_gate)
        {
            return [.. _order.Reverse().Select(id => _entries[id].Operation)];
        }
    }

    /// <summary>
    /// Progress of a block by its operation id, or null when neither this replica nor the schedule knows it (an id that is
    /// not a batch id, or a batch the schedule has forgotten).
    /// </summary>
    public async Task<BlockProgress?> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        if (!RevocationBatchIds.IsWellFormed(id))
        {
            return null;
        }

        var counts = await _schedule.GetProgressAsync(id, cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            var entry = _entries.GetValueOrDefault(id);
            if (counts is null)
            {
                return null;
            }

            if (entry is not null && counts.IsDone)
            {
                entry.FinishedAt ??= _time.GetUtcNow();
            }

            return new BlockProgress(id, entry?.Operation, counts.Total, counts.Revoked, counts.Failing, entry?.FinishedAt);
        }
    }

    private sealed class Entry(BlockOperation operation)
    {
        public BlockOperation Operation { get; } = operation;
        public DateTimeOffset? FinishedAt { get; set; }
    }
}
