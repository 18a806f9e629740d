using System.Text.Json;
using JitBroker.Core;
using JitBroker.Redis;
using StackExchange.Redis;
using LuaScript = JitBroker.Redis.LuaScript;

namespace JitBroker.Leases.Redis;

/// <summary>
/// The shared kill-switch list: a hash <c>{prefix}blocks</c> of pattern → block (JSON) and a version counter
/// <c>{prefix}blocks:version</c> that every change increments in the same script. <see cref="FindBlockAsync"/>
/// reads the version with a <c>GET</c> sent after the check began (concurrent checks share one, see
/// <see cref="CoalescedRead{T}"/>); the compiled patterns are cached per version, so a block set on any replica
/// applies on every replica from its next request — no staleness window.
/// </summary>
public sealed class RedisKillSwitch : IKillSwitch
{
    private static readonly LuaScript Block = new("""
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
        return redis.call('INCR', KEYS[2])
        """);

    private static readonly LuaScript Unblock = new("""
        if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
        redis.call('INCR', KEYS[2])
        return 1
        """);

    private static readonly LuaScript Snapshot = new("""
        return { redis.call('GET', KEYS[2]) or '0', redis.call('HGETALL', KEYS[1]) }
        """);

    private readonly IRedisConnection _redis;
    private readonly RedisKey[] _keys;
    private readonly CoalescedRead<string> _version;
    private volatile CachedList _cache = new("", BlockMatcher.Empty);

    public RedisKillSwitch(IRedisConnection redis, string keyPrefix)
    {
        ArgumentNullException.ThrowIfNull(redis);
        ArgumentException.ThrowIfNullOrEmpty(keyPrefix);
        _redis = redis;
        _keys = [keyPrefix + "blocks", keyPrefix + "blocks:version"];
        _version = new CoalescedRead<string>(async () =>
            (await _redis.ExecuteAsync("GET", [_keys[1]], CancellationToken.None).ConfigureAwait(false)).AsString() ?? "0");
    }

    public async ValueTask<AgentBlock?> FindBlockAsync(string agentId, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(agentId);
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            var version = await _version.ReadAsync(cancellationToken).ConfigureAwait(false);
            var cache = _cache;
            if (!string.Equals(cache.Version, version, StringComparison.Ordinal))
            {
                cache = await LoadAsync(cancellationToken).ConfigureAwait(false);
            }

            return cache.Matcher.Find(agentId, now);
        }
        catch (Exception ex) when (RedisFailures.IsRedisFailure(ex))
        {
            throw Unavailable(ex);
        }
    }

    /// <inheritdoc />
    /// <remarks>A block with the same pattern is replaced.</remarks>
    public async ValueTask BlockAsync(AgentBlock block, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(block);
        BlockMatcher.RequireValid(block.Pattern);
        cancellationToken.ThrowIfCancellationRequested();
        await RunAsync(Block, [block.Pattern, JsonSerializer.Serialize(block, StoreJson.Options)], cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<bool> UnblockAsync(string pattern, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        cancellationToken.ThrowIfCancellationRequested();
        return (await RunAsync(Unblock, [pattern], cancellationToken).ConfigureAwait(false)).AsInt64() == 1;
    }

    /// <inheritdoc />
    /// <remarks>Ordered by pattern (ordinal).</remarks>
    public async ValueTask<IReadOnlyList<AgentBlock>> ListAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            var (_, blocks) = Decode(await _redis.EvalAsync(Snapshot, _keys, [], cancellationToken).ConfigureAwait(false));
            return [.. blocks.OrderBy(b => b.Pattern, StringComparer.Ordinal)];
        }
        catch (Exception ex) when (RedisFailures.IsRedisFailure(ex))
        {
            throw Unavailable(ex);
        }
    }

    /// <summary>The list and its version read together (one script), so a cached list is never paired with a newer version.</summary>
    private async Task<CachedList> LoadAsync(CancellationToken cancellationToken)
    {
        var (version, blocks) = Decode(await _redis.EvalAsync(Snapshot, _keys, [], cancellationToken).ConfigureAwait(false));
        var cache = new CachedList(version, new BlockMatcher(blocks));
        _cache = cache;
        return cache;
    }

    private static (string Version, List<AgentBlock> Blocks) Decode(RedisResult snapshot)
    {
        var parts = snapshot.AsArray();
        var flat = parts[1].AsArray();
        var blocks = new List<AgentBlock>(flat.Length / 2);
        for (var i = 1; i < flat.Length; i += 2)
        {
            blocks.Add(JsonSerializer.Deserialize<AgentBlock>(flat[i].AsBytes(), StoreJson.Options)
                ?? throw new InvalidOperationException("A kill-switch entry in Redis is empty."));
        }

        return (parts[0].AsString()!, blocks);
    }

    /// <summary>Blocks and unblocks are durable writes: a block lost in a failover would let a blocked agent back in.</summary>
    private async Task<RedisResult> RunAsync(LuaScript script, RedisValue[] args, CancellationToken cancellationToken)
    {
        try
        {
            return await _redis.EvalDurableAsync(script, _keys, args, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (RedisFailures.IsRedisFailure(ex))
        {
            throw Unavailable(ex);
        }
    }

    private static BrokerException Unavailable(Exception ex) =>
        StoreFailures.Unavailable(Reasons.Store.KillSwitchUnavailable, "kill-switch list", ex);

    private sealed record CachedList(string Version, BlockMatcher Matcher);
}
