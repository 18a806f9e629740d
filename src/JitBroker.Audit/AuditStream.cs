using System.Runtime.CompilerServices;
using JitBroker.Core;
using JitBroker.Redis;
using StackExchange.Redis;

namespace JitBroker.Audit;

/// <summary>
/// Reads an audit mirror stream newest first with <c>XREVRANGE</c> — the only read the append-only audit user may
/// make — a page at a time. Shared by the mirror (its last seq, catching the file up) and the chain index.
/// </summary>
internal static class AuditStream
{
    /// <summary>Each entry's field/value pairs, newest first, down to <paramref name="start"/> (a stream id, "-" for all).</summary>
    public static async IAsyncEnumerable<RedisResult[]> EntriesNewestFirstAsync(IRedisConnection redis, RedisKey key, string start, int pageSize = 1000,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var end = "+";
        while (true)
        {
            var page = (await redis.ExecuteAsync("XREVRANGE", [key, end, start, "COUNT", pageSize], cancellationToken).ConfigureAwait(false)).AsArray();
            foreach (var entry in page)
            {
                yield return entry.AsArray()[1].AsArray();
            }

            if (page.Length < pageSize)
            {
                yield break;
            }

            end = "(" + page[^1].AsArray()[0].AsString();
        }
    }

    /// <summary>The value of field <paramref name="name"/> of an entry, or null.</summary>
    public static RedisResult? Field(RedisResult[] fields, string name)
    {
        for (var i = 0; i + 1 < fields.Length; i += 2)
        {
            if (fields[i].AsString() == name)
            {
                return fields[i + 1];
            }
        }

        return null;
    }

    public static BrokerException Unreadable(Exception ex) =>
        new(BrokerFailure.Unavailable, Reasons.Audit.Unavailable, "The audit stream in Redis cannot be read.", ex);
}
