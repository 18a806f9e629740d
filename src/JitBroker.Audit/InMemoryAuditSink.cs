using JitBroker.Core;

namespace JitBroker.Audit;

/// <summary>A sink in memory, for tests and throwaway hosts. <see cref="FailWrites"/> simulates an unwritable store.</summary>
public sealed class InMemoryAuditSink : IAuditSink
{
    private readonly List<AuditRecord> _records = [];
    private readonly Lock _gate = new();

    /// <summary>While true every open and write throws, as a full or vanished disk would.</summary>
    public bool FailWrites { get; set; }

    /// <summary>A snapshot of the stored records, in order.</summary>
    public IReadOnlyList<AuditRecord> Records
    {
        get
        {
            lock (_gate)
            {
                return [.. _records];
            }
        }
    }

    /// <summary>The stored lines as a JSON-lines document (each line ends with a newline).</summary>
    public string ToJsonLines() => string.Concat(Records.Select(r => r.Line + "\n"));

    /// <summary>Returns the last record, refusing (like the file) to continue from one that does not chain onto the record before it.</summary>
    public ValueTask<AuditRecord?> OpenAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfFailing();
        lock (_gate)
        {
            if (_records.Count == 0)
            {
                return ValueTask.FromResult<AuditRecord?>(null);
            }

            var last = _records[^1];
            var chained = _records.Count == 1
                ? last.Seq == 1 && last.PrevHash == AuditRecord.GenesisHash
                : last.Seq == _records[^2].Seq + 1 && last.PrevHash == _records[^2].Hash;
            return chained && last.Hash == last.ComputedHash
                ? ValueTask.FromResult<AuditRecord?>(last)
                : throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Audit.TailInvalid,
                    $"The in-memory audit store cannot be continued: record {last.Seq} does not chain onto the record before it.");
        }
    }

    public ValueTask WriteAsync(IReadOnlyList<AuditRecord> records, CancellationToken cancellationToken = default)
    {
        ThrowIfFailing();
        lock (_gate)
        {
            // Kept past this call: copies whose lines do not live in the log's batch buffer.
            foreach (var record in records)
            {
                _records.Add(record.Detached());
            }
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask SyncAsync(CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private void ThrowIfFailing()
    {
        if (FailWrites)
        {
            throw new BrokerException(BrokerFailure.Unavailable, Reasons.Audit.Unavailable, "The in-memory audit sink is set to fail.");
        }
    }
}
