using JitBroker.Core;
using JitBroker.Redis;
using StackExchange.Redis;

namespace JitBroker.Audit;

/// <summary>
/// Searches replicas' audit mirror streams (<c>{prefix}audit:{replica}</c>) for <c>lease.revoked</c> records — and, for
/// this replica itself, its own audit file too. The mirror is written before the file (see <see cref="MirroredAuditSink"/>),
/// so it holds every record a replica's file holds, except what a Redis failover lost (stream appends are not
/// replicated synchronously): that is why this replica also reads its own file, the copy no failover touches. Another
/// replica's file is out of reach; a dead replica whose last stream records a failover also lost can be recovered twice
/// (docs/revocation.md). Streams are read newest first with <c>XREVRANGE</c> (the only read the audit user may make), a
/// page at a time, back to <c>since</c> by the entries' time-based ids; the file from its end back to <c>since</c>.
/// </summary>
public sealed class RedisAuditChainIndex(IRedisConnection redis, string keyPrefix, string? self = null, string? ownFile = null) : IAuditChainIndex
{
    public async Task<IReadOnlySet<string>> RevokedLeaseIdsAsync(string replica, DateTimeOffset since, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(replica);
        var found = new HashSet<string>(StringComparer.Ordinal);
        if (replica == self && ownFile is not null)
        {
            SearchFile(ownFile, since, found);
        }

        var start = Math.Max(0, since.ToUnixTimeMilliseconds()) + "-0";
        try
        {
            await foreach (var fields in AuditStream.EntriesNewestFirstAsync(redis, keyPrefix + "audit:" + replica, start, cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                if (AuditStream.Field(fields, "line")?.AsString() is { } line && AuditRecord.Parse(line) is { Type: AuditEventTypes.LeaseRevoked } record
                    && record.GetString(AuditFields.LeaseId) is { } leaseId)
                {
                    found.Add(leaseId);
                }
            }

            return found;
        }
        catch (Exception ex) when (RedisFailures.IsRedisFailure(ex))
        {
            throw AuditStream.Unreadable(ex);
        }
    }

    // From the end back to the first record older than `since` (times are in order within one file).
    private static void SearchFile(string path, DateTimeOffset since, HashSet<string> found)
    {
        if (!File.Exists(path))
        {
            return;
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var bound = AuditRecord.FormatTime(since);
        for (var count = 4096; ; count *= 4)
        {
            var (lines, _) = AuditFileReader.ReadLastLines(stream, count);
            var reachedBound = false;
            foreach (var line in lines)
            {
                AuditRecord record;
                try
                {
                    record = AuditRecord.Parse(line);
                }
                catch (FormatException)
                {
                    continue; // a torn last line: not a record
                }

                if (string.CompareOrdinal(record.Time, bound) < 0)
                {
                    reachedBound = true;
                }
                else if (record.Type == AuditEventTypes.LeaseRevoked && record.GetString(AuditFields.LeaseId) is { } leaseId)
                {
                    found.Add(leaseId);
                }
            }

            if (reachedBound || lines.Count < count || count > 4_000_000)
            {
                return;
            }
        }
    }
}
