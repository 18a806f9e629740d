using System.Buffers;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using JitBroker.Core;
using JitBroker.Redis;
using StackExchange.Redis;

namespace JitBroker.Leases.Redis;

/// <summary>
/// The shared replay cache: one Redis string per presented piece of evidence, <c>{prefix}replay:{key}</c>,
/// holding the request binding, set with <c>NX</c> and a relative <c>PX</c> expiry so Redis forgets it when it
/// can no longer be valid. Check and record are one command, <c>SET key binding NX PX ttl GET</c> (Redis 7.0+: the
/// previous value, or nil when this call stored it), so two replicas racing on the same token cannot both see a first
/// use. It replaced a Lua script doing SET NX then GET: same atomicity, without a script run on every request.
/// </summary>
public sealed class RedisReplayCache : IReplayCache
{
    /// <summary>Replay keys longer than this are stored by their SHA-256 (memory), never truncated.</summary>
    public const int MaxRawKeyLength = 200;

    private readonly IRedisConnection _redis;
    private readonly string _prefix;
    private readonly byte[] _keyStart;
    private readonly TimeProvider _time;

    public RedisReplayCache(IRedisConnection redis, string keyPrefix, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(redis);
        ArgumentException.ThrowIfNullOrEmpty(keyPrefix);
        ArgumentNullException.ThrowIfNull(time);
        _redis = redis;
        _prefix = keyPrefix;
        _keyStart = Encoding.UTF8.GetBytes($"{keyPrefix}replay:{{");
        _time = time;
    }

    /// <inheritdoc />
    /// <remarks>
    /// The expiry is computed from the broker's clock (keepUntil − now, at least
    /// <see cref="InMemoryReplayCache.MinimumRetention"/>) and handed to Redis as a duration, so a clock offset
    /// between broker and Redis does not shorten it.
    /// </remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<ReplayVerdict> CheckAndRecordAsync(string replayKey, string binding, DateTimeOffset keepUntil, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(replayKey);
        ArgumentNullException.ThrowIfNull(binding);
        cancellationToken.ThrowIfCancellationRequested();
        var ttl = keepUntil - _time.GetUtcNow();
        var ttlMs = (long)Math.Ceiling(Math.Max(ttl.TotalMilliseconds, InMemoryReplayCache.MinimumRetention.TotalMilliseconds));
        try
        {
            var previous = await _redis.ExecuteAsync("SET", [KeyBytes(replayKey), binding, "NX", "PX", ttlMs, "GET"], cancellationToken)
                .ConfigureAwait(false);
            return previous.IsNull ? ReplayVerdict.FirstUse
                : IsBinding((RedisValue)previous, binding) ? ReplayVerdict.SameBinding
                : ReplayVerdict.Replayed;
        }
        catch (Exception ex) when (RedisFailures.IsRedisFailure(ex))
        {
            throw StoreFailures.Unavailable(Reasons.Store.ReplayCacheUnavailable, "replay cache", ex);
        }
    }

    /// <summary>
    /// True when the stored value is exactly <paramref name="binding"/>'s UTF-8 bytes: compared in place (a task's every
    /// request after its first sees its own binding here), not turned into a string first.
    /// </summary>
    internal static bool IsBinding(RedisValue stored, string binding)
    {
        const int StackBytes = 256;
        var storedLength = stored.GetByteCount();
        if (storedLength != Encoding.UTF8.GetByteCount(binding))
        {
            return false;
        }

        byte[]? rented = null;
        var buffer = 2 * storedLength <= StackBytes ? stackalloc byte[StackBytes] : (rented = ArrayPool<byte>.Shared.Rent(2 * storedLength));
        try
        {
            var storedBytes = buffer[..storedLength];
            var bindingBytes = buffer.Slice(storedLength, storedLength);
            stored.CopyTo(storedBytes);
            Encoding.UTF8.GetBytes(binding, bindingBytes);
            return storedBytes.SequenceEqual(bindingBytes);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    internal string Key(string replayKey) => replayKey.Length <= MaxRawKeyLength
        ? $"{_prefix}replay:{{{replayKey}}}"
        : $"{_prefix}replay:{{sha256:{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(replayKey)))}}}";

    /// <summary>
    /// <see cref="Key"/> as the UTF-8 bytes Redis stores, built without the UTF-16 string in between (half the size, on
    /// every request).
    /// </summary>
    internal RedisKey KeyBytes(string replayKey)
    {
        if (replayKey.Length > MaxRawKeyLength)
        {
            return Key(replayKey);
        }

        var key = new byte[_keyStart.Length + Encoding.UTF8.GetByteCount(replayKey) + 1];
        _keyStart.CopyTo(key, 0);
        var written = Encoding.UTF8.GetBytes(replayKey, key.AsSpan(_keyStart.Length));
        key[_keyStart.Length + written] = (byte)'}';
        return key;
    }
}
