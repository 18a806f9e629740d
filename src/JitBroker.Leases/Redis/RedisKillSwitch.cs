using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using JitBroker.Core;
using JitBroker.Redis;
using LuaScript = JitBroker.Redis.LuaScript;
using StackExchange.Redis;

namespace JitBroker.Leases.Redis;

/// <summary>
/// The shared kill-switch list: a hash <c>{prefix}blocks</c> of pattern → block (JSON) and a version counter
/// <c>{prefix}blocks:version</c> that every change increments in the same script. <see cref="FindBlockAsync"/>
/// reads the version with a <c>GET</c> sent after the check began (concurrent checks share one, see
/// <see cref="CoalescedRead{TReply, T}"/>); the compiled patterns are cached per version, so a block set on any replica
/// applies on every replica from its next request — no staleness window.
/// </summary>
/// <remarks>
/// The whole list is sealed: <c>{prefix}blocks:seal</c> holds a <see cref="StateMac"/> tag over the version and every
/// (pattern, block) pair, written by the same script as each change. Someone who can write Redis therefore cannot add,
/// change or delete a block, or bump the version, without the seal failing — and a list that fails is refused as a whole
/// (<see cref="Reasons.Store.IntegrityCheckFailed"/>: every request refused, fail closed), because a deleted block cannot
/// be told apart from the others. Each replica also remembers the highest version it verified and refuses an older one,
/// so replaying an earlier sealed list is caught by every replica that saw a later one. Only the fresh state (no version,
/// no blocks, no seal) is accepted unsealed; a list written before the seal existed is refused until an operator resets
/// it (docs/security.md, "Upgrading"). Since the seal is computed here, changes are optimistic: read, seal, write if the
/// version is still the one read, else retry.
/// </remarks>
public sealed class RedisKillSwitch : IKillSwitch
{
    /// <summary>Most optimistic retries of one block or unblock against concurrent changes.</summary>
    private const int MaxAttempts = 16;

    private const string SealPurpose = "kill-switch";

    /// <summary>KEYS: list, version, seal. ARGV: expected version, pattern, block JSON, seal → new version, or -1 when the version moved.</summary>
    private static readonly LuaScript Block = new("""
        if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[1] then return -1 end
        redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
        redis.call('SET', KEYS[3], ARGV[4])
        return redis.call('INCR', KEYS[2])
        """);

    /// <summary>KEYS: list, version, seal. ARGV: expected version, pattern, seal → 1 removed, 0 none, -1 the version moved.</summary>
    private static readonly LuaScript Unblock = new("""
        if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[1] then return -1 end
        if redis.call('HDEL', KEYS[1], ARGV[2]) == 0 then return 0 end
        redis.call('SET', KEYS[3], ARGV[3])
        redis.call('INCR', KEYS[2])
        return 1
        """);

    private static readonly LuaScript Snapshot = new("""
        return { redis.call('GET', KEYS[2]) or '0', redis.call('HGETALL', KEYS[1]), redis.call('GET', KEYS[3]) or '' }
        """);

    private readonly IRedisConnection _redis;
    private readonly RedisKey[] _keys;
    private readonly CoalescedRead<RedisResult, string> _version;
    private readonly StateMac _mac;
    private volatile CachedList _cache = new("", BlockMatcher.Empty);
    private long _highestVerified;

    /// <param name="stateMac">Seals the list; null means <see cref="StateMac.ProcessEphemeral"/> (tests, tools).</param>
    public RedisKillSwitch(IRedisConnection redis, string keyPrefix, StateMac? stateMac = null)
    {
        ArgumentNullException.ThrowIfNull(redis);
        ArgumentException.ThrowIfNullOrEmpty(keyPrefix);
        _redis = redis;
        _mac = stateMac ?? StateMac.ProcessEphemeral;
        _keys = [keyPrefix + "blocks", keyPrefix + "blocks:version", keyPrefix + "blocks:seal"];
        // One argument list for every read (the connection only reads it): the version is read on every request.
        object[] versionKey = [_keys[1]];
        _version = new CoalescedRead<RedisResult, string>(() => _redis.ExecuteAsync("GET", versionKey, CancellationToken.None),
            static reply => reply.AsString() ?? "0");
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
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
    /// <exception cref="BrokerException"><see cref="Reasons.Store.IntegrityCheckFailed"/>: the stored list is not trusted, so it is not re-sealed.</exception>
    public async ValueTask BlockAsync(AgentBlock block, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(block);
        BlockMatcher.RequireValid(block.Pattern);
        var json = JsonSerializer.Serialize(block, StoreJson.Options);
        await ChangeAsync(Block, entries => entries[block.Pattern] = json, seal => [block.Pattern, json, seal], cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<bool> UnblockAsync(string pattern, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        return await ChangeAsync(Unblock, entries => entries.Remove(pattern), seal => [pattern, seal], cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <summary>Read and verify the list, apply <paramref name="change"/>, seal the result, write it if nobody changed the list meanwhile.</summary>
    private async Task<long> ChangeAsync(LuaScript script, Action<SortedDictionary<string, string>> change, Func<string, RedisValue[]> args,
        CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var (version, entries) = await ReadVerifiedAsync(cancellationToken).ConfigureAwait(false);
            change(entries);
            var next = long.Parse(version, CultureInfo.InvariantCulture) + 1;
            var reply = (await RunAsync(script, [version, .. args(SealOf(next.ToString(CultureInfo.InvariantCulture), entries))], cancellationToken).ConfigureAwait(false)).AsInt64();
            if (reply != -1)
            {
                return reply;
            }
        }

        throw Unavailable(new RedisException("The kill-switch list kept changing during the update; try again."));
    }

    /// <inheritdoc />
    /// <remarks>Ordered by pattern (ordinal).</remarks>
    public async ValueTask<IReadOnlyList<AgentBlock>> ListAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var (_, entries) = await ReadVerifiedAsync(cancellationToken).ConfigureAwait(false);
        return [.. entries.Values.Select(Parse)];
    }

    /// <summary>The list and its version read together (one script), so a cached list is never paired with a newer version.</summary>
    private async Task<CachedList> LoadAsync(CancellationToken cancellationToken)
    {
        var (version, entries) = await ReadVerifiedAsync(cancellationToken).ConfigureAwait(false);
        var cache = new CachedList(version, new BlockMatcher([.. entries.Values.Select(Parse)]));
        _cache = cache;
        return cache;
    }

    /// <summary>Version and entries (pattern → JSON) after the seal and the version high-water mark checked out.</summary>
    private async Task<(string Version, SortedDictionary<string, string> Entries)> ReadVerifiedAsync(CancellationToken cancellationToken)
    {
        RedisResult snapshot;
        try
        {
            snapshot = await _redis.EvalAsync(Snapshot, _keys, [], cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (RedisFailures.IsRedisFailure(ex))
        {
            throw Unavailable(ex);
        }

        var parts = snapshot.AsArray();
        var version = parts[0].AsString() ?? "0";
        var flat = parts[1].AsArray();
        var entries = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < flat.Length; i += 2)
        {
            entries[flat[i].AsString()!] = flat[i + 1].AsString()!;
        }

        var seal = parts[2].AsString();
        // Unsealed is accepted only as the fresh state: no version key, no blocks. Once anything was ever written the
        // version is above 0 and a seal must verify — else deleting blocks and seal would read as "no blocks".
        var fresh = version == "0" && entries.Count == 0 && string.IsNullOrEmpty(seal);
        var sealedOk = fresh || _mac.Verify(seal, SealPurpose, Canonical(version, entries));
        if (!sealedOk || !long.TryParse(version, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number < Volatile.Read(ref _highestVerified))
        {
            throw new BrokerException(BrokerFailure.Internal, Reasons.Store.IntegrityCheckFailed,
                "The kill-switch list in the shared store failed its integrity check (changed, deleted or rolled back outside the broker); " +
                "every request is refused until an operator restores it (docs/security.md).");
        }

        // Only ever raised: a replica that verified version n refuses anything older, whoever wrote it.
        long seen;
        while (number > (seen = Volatile.Read(ref _highestVerified)) && Interlocked.CompareExchange(ref _highestVerified, number, seen) != seen)
        {
        }

        return (version, entries);
    }

    private string SealOf(string version, SortedDictionary<string, string> entries) => _mac.Sign(SealPurpose, Canonical(version, entries));

    /// <summary>The version, then each pattern and its JSON in ordinal pattern order (StateMac length-prefixes every field).</summary>
    private static string[] Canonical(string version, SortedDictionary<string, string> entries) =>
        [version, .. entries.SelectMany(e => new[] { e.Key, e.Value })];

    private static AgentBlock Parse(string json) =>
        JsonSerializer.Deserialize<AgentBlock>(json, StoreJson.Options) ?? throw new InvalidOperationException("A kill-switch entry in Redis is empty.");

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
