using System.Security.Cryptography;
using System.Text;
using JitBroker.Core;
using JitBroker.Redis;
using StackExchange.Redis;
using LuaScript = JitBroker.Redis.LuaScript;

namespace JitBroker.Leases.Redis;

/// <summary>
/// The shared replay cache: one Redis string per presented piece of evidence, <c>{prefix}replay:{key}</c>,
/// holding the request binding, set with <c>NX</c> and a relative <c>PX</c> expiry so Redis forgets it when it
/// can no longer be valid. Check and record are one Lua script, so two replicas racing on the same token
/// cannot both see a first use.
/// </summary>
public sealed class RedisReplayCache : IReplayCache
{
    /// <summary>Replay keys longer than this are stored by their SHA-256 (memory), never truncated.</summary>
    public const int MaxRawKeyLength = 200;

    private static readonly LuaScript CheckAndRecord = new("""
        if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
        if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end
        return 2
        """);

    private readonly IRedisConnection _redis;
    private readonly string _prefix;
    private readonly TimeProvider _time;

    public RedisReplayCache(IRedisConnection redis, string keyPrefix, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(redis);
        ArgumentException.ThrowIfNullOrEmpty(keyPrefix);
        ArgumentNullException.ThrowIfNull(time);
        _redis = redis;
        _prefix = keyPrefix;
        _time = time;
    }

    /// <inheritdoc />
    /// <remarks>
    /// The expiry is computed from the broker's clock (keepUntil − now, at least
    /// <see cref="InMemoryReplayCache.MinimumRetention"/>) and handed to Redis as a duration, so a clock offset
    /// between broker and Redis does not shorten it.
    /// </remarks>
    public async ValueTask<ReplayVerdict> CheckAndRecordAsync(string replayKey, string binding, DateTimeOffset keepUntil, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(replayKey);
        ArgumentNullException.ThrowIfNull(binding);
        cancellationToken.ThrowIfCancellationRequested();
        var ttl = keepUntil - _time.GetUtcNow();
        var ttlMs = (long)Math.Ceiling(Math.Max(ttl.TotalMilliseconds, InMemoryReplayCache.MinimumRetention.TotalMilliseconds));
        try
        {
            var verdict = await _redis.EvalAsync(CheckAndRecord, [Key(replayKey)], [binding, ttlMs], cancellationToken).ConfigureAwait(false);
            return (ReplayVerdict)verdict.AsInt64();
        }
        catch (Exception ex) when (RedisFailures.IsRedisFailure(ex))
        {
            throw StoreFailures.Unavailable(Reasons.Store.ReplayCacheUnavailable, "replay cache", ex);
        }
    }

    internal string Key(string replayKey) => replayKey.Length <= MaxRawKeyLength
        ? $"{_prefix}replay:{{{replayKey}}}"
        : $"{_prefix}replay:{{sha256:{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(replayKey)))}}}";
}
