using System.Runtime.CompilerServices;
using JitBroker.Core;
using JitBroker.Redis;
using StackExchange.Redis;

namespace JitBroker.Audit;

/// <summary>
/// The file is the chain operators verify; every record is also appended, in order and unchanged, to a Redis
/// Stream (<c>XADD key MAXLEN ~ n * seq &lt;seq&gt; line &lt;line&gt;</c>) — an off-box copy that makes tail
/// truncation of the file visible, feeds SIEM consumers and lets other replicas search this one's records
/// (<see cref="RedisAuditChainIndex"/>). A write counts only when both copies took it (fail closed).
/// </summary>
/// <remarks>
/// The stream is written first: a replica killed between the two writes leaves the record in the stream only, and
/// re-opening copies it into the file (after checking it chains onto the file's tail). So the stream always holds
/// every record the file holds, and another replica searching the stream of one that died sees all it recorded.
/// When the stream missed records (a file written before the mirror was configured), re-opening back-fills them
/// from the file before anything new is written.
/// </remarks>
public sealed class MirroredAuditSink(AuditFileSink file, IRedisConnection redis, string streamKey, long maxLength = 1_000_000) : IAuditSink
{
    // The XADD arguments that are the same for every record, boxed once instead of once per record.
    private readonly object _boxedKey = (RedisKey)streamKey;
    private readonly object _boxedMaxLength = maxLength;

    public string StreamKey => streamKey;

    public async ValueTask<AuditRecord?> OpenAsync(CancellationToken cancellationToken = default)
    {
        var last = await file.OpenAsync(cancellationToken).ConfigureAwait(false);
        if (last is null)
        {
            return null;
        }

        var mirrored = await LastMirroredSeqAsync(cancellationToken).ConfigureAwait(false);
        if (mirrored < last.Seq)
        {
            await BackfillAsync(mirrored, cancellationToken).ConfigureAwait(false);
        }
        else if (mirrored > last.Seq)
        {
            last = await CatchUpAsync(last, cancellationToken).ConfigureAwait(false);
        }

        return last;
    }

    // The writer loop awaits every call once (the IAuditSink contract): pooled, so a batch boxes no state machine.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask WriteAsync(IReadOnlyList<AuditRecord> records, CancellationToken cancellationToken = default)
    {
        // Built here rather than through a (seq, line) projection: no iterator, tuples or list-then-array per batch.
        var commands = new PipelinedCommand[records.Count];
        for (var i = 0; i < commands.Length; i++)
        {
            commands[i] = Xadd(records[i].Seq, records[i].LineUtf8);
        }

        await MirrorAsync(commands, cancellationToken).ConfigureAwait(false);
        await file.WriteAsync(records, cancellationToken).ConfigureAwait(false);
    }

    public ValueTask SyncAsync(CancellationToken cancellationToken = default) => file.SyncAsync(cancellationToken);

    public ValueTask DisposeAsync() => file.DisposeAsync();

    private PipelinedCommand Xadd(long seq, ReadOnlyMemory<byte> line) =>
        new("XADD", [_boxedKey, "MAXLEN", "~", _boxedMaxLength, "*", "seq", seq, "line", (RedisValue)line]);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask MirrorAsync(IReadOnlyList<PipelinedCommand> commands, CancellationToken cancellationToken)
    {
        try
        {
            // One pipelined write for the whole batch (one round trip, one socket write), in order.
            await redis.ExecuteManyAsync(commands, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (RedisFailures.IsRedisFailure(ex))
        {
            throw new BrokerException(BrokerFailure.Unavailable, Reasons.Audit.Unavailable, "The audit stream in Redis cannot be written.", ex);
        }
    }

    private async Task<long> LastMirroredSeqAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var fields in AuditStream.EntriesNewestFirstAsync(redis, streamKey, "-", pageSize: 1, cancellationToken).ConfigureAwait(false))
            {
                return AuditStream.Field(fields, "seq")?.AsInt64() ?? 0;
            }

            return 0;
        }
        catch (Exception ex) when (RedisFailures.IsRedisFailure(ex))
        {
            throw AuditStream.Unreadable(ex);
        }
    }

    /// <summary>
    /// Copies into the file the records the stream took after the file's last one (a crash between the two writes),
    /// refusing — <c>audit.tail_invalid</c> — unless they chain onto the file's tail seq by seq and hash by hash.
    /// </summary>
    private async Task<AuditRecord> CatchUpAsync(AuditRecord last, CancellationToken cancellationToken)
    {
        const int MaxCatchUp = 100_000; // one crashed write is at most one writer batch; more means something else
        var newer = new List<AuditRecord>();
        try
        {
            await foreach (var fields in AuditStream.EntriesNewestFirstAsync(redis, streamKey, "-", cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                var record = AuditRecord.Parse(AuditStream.Field(fields, "line")?.AsString() ?? throw new FormatException("An entry has no line."));
                if (record.Seq <= last.Seq)
                {
                    return await AppendCaughtUpAsync(last, newer, cancellationToken).ConfigureAwait(false);
                }

                newer.Add(record);
                if (newer.Count > MaxCatchUp)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (RedisFailures.IsRedisFailure(ex))
        {
            throw AuditStream.Unreadable(ex);
        }
        catch (FormatException ex)
        {
            throw TailInvalid($"an entry of {streamKey} is not an audit record: {ex.Message}", ex);
        }

        throw TailInvalid($"{streamKey} holds records past the file's seq {last.Seq} that do not continue it", null);
    }

    private async Task<AuditRecord> AppendCaughtUpAsync(AuditRecord last, List<AuditRecord> newerFirst, CancellationToken cancellationToken)
    {
        newerFirst.Reverse();
        var previous = last;
        foreach (var record in newerFirst)
        {
            if (record.Seq != previous.Seq + 1 || record.PrevHash != previous.Hash || record.Hash != record.ComputedHash)
            {
                throw TailInvalid($"record {record.Seq} of {streamKey} does not chain onto the file's record {previous.Seq}", null);
            }

            previous = record;
        }

        await file.WriteAsync(newerFirst, cancellationToken).ConfigureAwait(false);
        await file.SyncAsync(cancellationToken).ConfigureAwait(false);
        return previous;
    }

    private static BrokerException TailInvalid(string detail, Exception? inner) =>
        new(BrokerFailure.FailedPrecondition, Reasons.Audit.TailInvalid, "The audit stream cannot be reconciled with the file: " + detail + ".", inner);

    /// <summary>
    /// Streams the file forward and mirrors what the stream lacks in batches, so memory stays bounded however
    /// long Redis was away (the cost is one pass over the file, at start-up or after an outage).
    /// </summary>
    private async Task BackfillAsync(long mirroredSeq, CancellationToken cancellationToken)
    {
        const int BatchSize = 1000;
        using var reader = new StreamReader(new FileStream(file.FilePath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
        var batch = new List<PipelinedCommand>(BatchSize);
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            if (line.Length == 0)
            {
                continue;
            }

            var record = AuditRecord.Parse(line);
            if (record.Seq <= mirroredSeq)
            {
                continue;
            }

            batch.Add(Xadd(record.Seq, record.LineUtf8));
            if (batch.Count == BatchSize)
            {
                await MirrorAsync(batch, cancellationToken).ConfigureAwait(false);
                batch.Clear();
            }
        }

        if (batch.Count > 0)
        {
            await MirrorAsync(batch, cancellationToken).ConfigureAwait(false);
        }
    }
}
