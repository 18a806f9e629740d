using JitBroker.Core;
using JitBroker.Redis;
using StackExchange.Redis;

namespace JitBroker.Audit;

/// <summary>
/// Searches replicas' audit mirror streams (<c>{prefix}audit:{replica}</c>) for <c>lease.revoked</c> records. The
/// mirror is written before the file (see <see cref="MirroredAuditSink"/>), so it holds every record any replica's
/// file holds: what is not found here was never recorded. Reads newest first with <c>XREVRANGE</c> (the only read the
/// audit user may make), a page at a time, back to <c>since</c> by the entries' time-based ids.
/// </summary>
public sealed class RedisAuditChainIndex(IRedisConnection redis, string keyPrefix) : IAuditChainIndex
{
    private const int PageSize = 1000;

    public async Task<IReadOnlySet<string>> RevokedLeaseIdsAsync(string replica, DateTimeOffset since, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(replica);
        var found = new HashSet<string>(StringComparer.Ordinal);
        RedisKey key = keyPrefix + "audit:" + replica;
        var end = "+";
        var start = Math.Max(0, since.ToUnixTimeMilliseconds()) + "-0";
        try
        {
            while (true)
            {
                var page = (await redis.ExecuteAsync("XREVRANGE", [key, end, start, "COUNT", PageSize], cancellationToken).ConfigureAwait(false)).AsArray();
                foreach (var entry in page)
                {
                    var parts = entry.AsArray();
                    if (LineOf(parts[1].AsArray()) is { } line && AuditRecord.Parse(line) is { Type: AuditEventTypes.LeaseRevoked } record
                        && record.GetString(AuditFields.LeaseId) is { } leaseId)
                    {
                        found.Add(leaseId);
                    }
                }

                if (page.Length < PageSize)
                {
                    return found;
                }

                end = "(" + page[^1].AsArray()[0].AsString();
            }
        }
        catch (Exception ex) when (RedisFailures.IsRedisFailure(ex))
        {
            throw new BrokerException(BrokerFailure.Unavailable, AuditReasons.Unavailable, "The audit stream in Redis cannot be read.", ex);
        }
    }

    private static string? LineOf(RedisResult[] fields)
    {
        for (var i = 0; i + 1 < fields.Length; i += 2)
        {
            if (fields[i].AsString() == "line")
            {
                return fields[i + 1].AsString();
            }
        }

        return null;
    }
}
