using JitBroker.Core;
using JitBroker.Redis;
using StackExchange.Redis;

namespace JitBroker.Audit;

/// <summary>
/// The file stays the authoritative chain; every record is also appended, in order and unchanged, to a Redis
/// Stream (<c>XADD key MAXLEN ~ n * seq &lt;seq&gt; line &lt;line&gt;</c>) — an off-box copy that makes tail
/// truncation of the file visible and feeds SIEM consumers. A write counts only when both copies took it
/// (fail closed); when the stream missed records (Redis was down), re-opening back-fills them from the file
/// before anything new is written, so the stream never has a gap.
/// </summary>
public sealed class MirroredAuditSink(AuditFileSink file, IRedisConnection redis, string streamKey, long maxLength = 1_000_000) : IAuditSink
{
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

        return last;
    }

    public async ValueTask WriteAsync(IReadOnlyList<AuditRecord> records, CancellationToken cancellationToken = default)
    {
        await file.WriteAsync(records, cancellationToken).ConfigureAwait(false);
        await MirrorAsync(records.Select(r => (r.Seq, r.Line)), cancellationToken).ConfigureAwait(false);
    }

    public ValueTask SyncAsync(CancellationToken cancellationToken = default) => file.SyncAsync(cancellationToken);

    public ValueTask DisposeAsync() => file.DisposeAsync();

    private async Task MirrorAsync(IEnumerable<(long Seq, string Line)> records, CancellationToken cancellationToken)
    {
        try
        {
            // Pipelined on the one connection: one round trip's latency for the whole batch, order kept by the connection.
            await Task.WhenAll(records.Select(r => redis.ExecuteAsync("XADD",
                [(RedisKey)streamKey, "MAXLEN", "~", maxLength, "*", "seq", r.Seq, "line", r.Line], cancellationToken))).ConfigureAwait(false);
        }
        catch (Exception ex) when (RedisFailures.IsRedisFailure(ex))
        {
            throw new BrokerException(BrokerFailure.Unavailable, AuditReasons.Unavailable, "The audit stream in Redis cannot be written.", ex);
        }
    }

    private async Task<long> LastMirroredSeqAsync(CancellationToken cancellationToken)
    {
        try
        {
            var entries = (await redis.ExecuteAsync("XREVRANGE", [(RedisKey)streamKey, "+", "-", "COUNT", 1], cancellationToken).ConfigureAwait(false)).AsArray();
            if (entries.Length == 0)
            {
                return 0;
            }

            var fields = entries[0].AsArray()[1].AsArray();
            for (var i = 0; i + 1 < fields.Length; i += 2)
            {
                if (fields[i].AsString() == "seq")
                {
                    return fields[i + 1].AsInt64();
                }
            }

            return 0;
        }
        catch (Exception ex) when (RedisFailures.IsRedisFailure(ex))
        {
            throw new BrokerException(BrokerFailure.Unavailable, AuditReasons.Unavailable, "The audit stream in Redis cannot be read.", ex);
        }
    }

    /// <summary>
    /// Streams the file forward and mirrors what the stream lacks in batches, so memory stays bounded however
    /// long Redis was away (the cost is one pass over the file, at start-up or after an outage).
    /// </summary>
    private async Task BackfillAsync(long mirroredSeq, CancellationToken cancellationToken)
    {
        const int BatchSize = 1000;
        using var reader = new StreamReader(new FileStream(file.FilePath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
        var batch = new List<(long Seq, string Line)>(BatchSize);
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

            batch.Add((record.Seq, record.Line));
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
