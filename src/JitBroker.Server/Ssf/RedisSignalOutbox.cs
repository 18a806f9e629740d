using System.Text.Json;
using JitBroker.Redis;
using StackExchange.Redis;
using LuaScript = JitBroker.Redis.LuaScript;

namespace JitBroker.Server.Ssf;

/// <summary>
/// The production outbox. Streams are one hash (<c>{prefix}ssf:streams</c>, id → JSON). Each stream's queue lives under
/// one hash tag (<c>{prefix}ssf:{id}:…</c>, one Redis Cluster slot, so every script is atomic): <c>items</c> (id → JSON),
/// <c>due</c> (sorted by when an item may next be claimed — a claim pushes it to the claim's end, so a replica that dies
/// mid-push leaves it to reappear), <c>at</c> (sorted by enqueue time, for retention trimming) and <c>meta</c> (last error,
/// last delivery). Only commands the broker's least-privilege ACL allows are used (docs/redis.md). Enqueues are durable writes (<see cref="IRedisConnection.EvalDurableAsync"/>), as the ledger's are.
/// </summary>
public sealed class RedisSignalOutbox(IRedisConnection redis, string prefix) : ISignalOutbox
{
    private static readonly LuaScript Enqueue = new("""
        local n = 0
        for i = 2, #ARGV, 3 do
          if not redis.call('HGET', KEYS[3], ARGV[i]) then
            redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
            redis.call('ZADD', KEYS[1], ARGV[1], ARGV[i])
            redis.call('ZADD', KEYS[2], ARGV[i + 2], ARGV[i])
            n = n + 1
          end
        end
        return n
        """);

    private static readonly LuaScript Claim = new("""
        local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
        local out = {}
        for _, id in ipairs(ids) do
          local item = redis.call('HGET', KEYS[2], id)
          if item then
            redis.call('ZADD', KEYS[1], ARGV[3], id)
            out[#out + 1] = item
          else
            redis.call('ZREM', KEYS[1], id)
          end
        end
        return out
        """);

    private static readonly LuaScript Ack = new("""
        for i = 2, #ARGV do
          redis.call('ZREM', KEYS[1], ARGV[i])
          redis.call('ZREM', KEYS[2], ARGV[i])
          redis.call('HDEL', KEYS[3], ARGV[i])
        end
        redis.call('HSET', KEYS[4], 'delivered', ARGV[1])
        return 1
        """);

    private static readonly LuaScript Retry = new("""
        for i = 4, #ARGV do
          if redis.call('HGET', KEYS[2], ARGV[i]) then
            redis.call('ZADD', KEYS[1], ARGV[1], ARGV[i])
          end
        end
        redis.call('HSET', KEYS[3], 'error', ARGV[2], 'error_at', ARGV[3])
        return 1
        """);

    private static readonly LuaScript Trim = new("""
        local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1])
        for _, id in ipairs(ids) do
          redis.call('ZREM', KEYS[1], id)
          redis.call('ZREM', KEYS[2], id)
          redis.call('HDEL', KEYS[3], id)
        end
        return #ids
        """);

    private string StreamsKey => prefix + "ssf:streams";

    public async Task PutStreamAsync(SignalStream stream, CancellationToken cancellationToken = default) =>
        await redis.ExecuteAsync("HSET", [(RedisKey)StreamsKey, stream.StreamId, JsonSerializer.Serialize(stream)], cancellationToken).ConfigureAwait(false);

    public async Task<SignalStream?> GetStreamAsync(string streamId, CancellationToken cancellationToken = default)
    {
        var value = await redis.ExecuteAsync("HGET", [(RedisKey)StreamsKey, streamId], cancellationToken).ConfigureAwait(false);
        return value.IsNull ? null : JsonSerializer.Deserialize<SignalStream>((string)value!);
    }

    public async Task<IReadOnlyList<SignalStream>> ListStreamsAsync(CancellationToken cancellationToken = default)
    {
        // HGETALL, not HVALS: the broker's least-privilege ACL (docs/redis.md) allows only the former.
        var pairs = (RedisResult[])(await redis.ExecuteAsync("HGETALL", [(RedisKey)StreamsKey], cancellationToken).ConfigureAwait(false))!;
        return [.. pairs.Where((_, i) => i % 2 == 1).Select(v => JsonSerializer.Deserialize<SignalStream>((string)v!)!).OrderBy(s => s.StreamId, StringComparer.Ordinal)];
    }

    public async Task<bool> DeleteStreamAsync(string streamId, CancellationToken cancellationToken = default)
    {
        var removed = (long)await redis.ExecuteAsync("HDEL", [(RedisKey)StreamsKey, streamId], cancellationToken).ConfigureAwait(false);
        var k = Keys(streamId);
        await redis.ExecuteAsync("DEL", [k.Due, k.At, k.Items, k.Meta], cancellationToken).ConfigureAwait(false);
        return removed == 1;
    }

    public async Task EnqueueAsync(IReadOnlyList<PendingSignal> signals, CancellationToken cancellationToken = default)
    {
        foreach (var group in signals.GroupBy(s => s.StreamId, StringComparer.Ordinal))
        {
            var k = Keys(group.Key);
            var args = new List<RedisValue> { 0 };
            foreach (var s in group)
            {
                args.Add(s.Id);
                args.Add(JsonSerializer.Serialize(s));
                args.Add(s.EnqueuedAt.ToUnixTimeMilliseconds());
            }

            args[0] = group.Min(s => s.EnqueuedAt).ToUnixTimeMilliseconds();
            await redis.EvalDurableAsync(Enqueue, [k.Due, k.At, k.Items], args, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<IReadOnlyList<PendingSignal>> ClaimAsync(string streamId, int max, DateTimeOffset now, TimeSpan claimFor, CancellationToken cancellationToken = default)
    {
        var k = Keys(streamId);
        var result = (RedisResult[])(await redis.EvalAsync(Claim, [k.Due, k.Items],
            [now.ToUnixTimeMilliseconds(), max, (now + claimFor).ToUnixTimeMilliseconds()], cancellationToken).ConfigureAwait(false))!;
        return [.. result.Select(r => JsonSerializer.Deserialize<PendingSignal>((string)r!)!)];
    }

    public async Task AcknowledgeAsync(string streamId, IReadOnlyList<string> ids, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        var k = Keys(streamId);
        await redis.EvalAsync(Ack, [k.Due, k.At, k.Items, k.Meta], [now.ToUnixTimeMilliseconds(), .. ids.Select(i => (RedisValue)i)], cancellationToken).ConfigureAwait(false);
    }

    public async Task RetryLaterAsync(string streamId, IReadOnlyList<string> ids, DateTimeOffset dueAt, string error, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        var k = Keys(streamId);
        await redis.EvalAsync(Retry, [k.Due, k.Items, k.Meta],
            [dueAt.ToUnixTimeMilliseconds(), error, now.ToUnixTimeMilliseconds(), .. ids.Select(i => (RedisValue)i)], cancellationToken).ConfigureAwait(false);
    }

    public async Task<int> TrimAsync(string streamId, DateTimeOffset enqueuedBefore, CancellationToken cancellationToken = default)
    {
        var k = Keys(streamId);
        return (int)await redis.EvalAsync(Trim, [k.Due, k.At, k.Items], [enqueuedBefore.ToUnixTimeMilliseconds()], cancellationToken).ConfigureAwait(false);
    }

    public async Task<SignalQueueStats> StatsAsync(string streamId, CancellationToken cancellationToken = default)
    {
        var k = Keys(streamId);
        var replies = await redis.ExecuteManyAsync(
        [
            new PipelinedCommand("ZCARD", [k.At]),
            new PipelinedCommand("ZRANGE", [k.At, 0, 0, "WITHSCORES"]),
            new PipelinedCommand("HMGET", [k.Meta, "error", "error_at", "delivered"]),
        ], cancellationToken).ConfigureAwait(false);
        var oldest = (RedisResult[])replies[1]!;
        var meta = (RedisResult[])replies[2]!;
        return new SignalQueueStats((long)replies[0], oldest.Length == 2 ? Ms(oldest[1]) : null, meta[0].IsNull ? null : (string)meta[0]!, Ms(meta[1]), Ms(meta[2]));
    }

    private static DateTimeOffset? Ms(RedisResult r) => r.IsNull ? null : DateTimeOffset.FromUnixTimeMilliseconds((long)(double)r);

    private (RedisKey Due, RedisKey At, RedisKey Items, RedisKey Meta) Keys(string streamId)
    {
        var tag = prefix + "ssf:{" + streamId + "}:";
        return (tag + "due", tag + "at", tag + "items", tag + "meta");
    }
}
