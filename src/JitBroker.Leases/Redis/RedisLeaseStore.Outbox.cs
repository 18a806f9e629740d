using System.Globalization;
using JitBroker.Core;
using JitBroker.Redis;
using StackExchange.Redis;

namespace JitBroker.Leases.Redis;

/// <summary>
/// The outbox of revocation records (<see cref="IRevocationOutbox"/>) on Redis. Entries live in the lease's bucket (the
/// mark-revoked script writes them in the same slot as the lease); heartbeats and recovery holds live together under one
/// prefix of their own (<see cref="ReplicasPrefix"/>), so each script touches one slot. See <see cref="LeaseScripts.Acknowledge"/>.
/// </summary>
public sealed partial class RedisLeaseStore : IRevocationOutbox
{
    public async Task<IReadOnlyList<UnauditedRevocation>> ListUnauditedAsync(string owner, DateTimeOffset before, int max,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(owner);
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        var bound = "(" + LeaseCodec.Ms(before).ToString(CultureInfo.InvariantCulture);
        var replies = await ForEachBucketAsync(b => ExecuteAsync("ZRANGEBYSCORE",
            [(RedisKey)OutboxKey(b, owner), "-inf", bound, "WITHSCORES", "LIMIT", 0, max], cancellationToken)).ConfigureAwait(false);
        var entries = new List<UnauditedRevocation>();
        foreach (var items in replies.Select(r => r.AsArray()))
        {
            for (var i = 0; i + 1 < items.Length; i += 2)
            {
                var ms = long.Parse(items[i + 1].AsString()!, NumberStyles.Integer, CultureInfo.InvariantCulture);
                entries.Add(new UnauditedRevocation(items[i].AsString()!, DateTimeOffset.FromUnixTimeMilliseconds(ms)));
            }
        }

        return [.. entries.OrderBy(e => e.RevokedAt).ThenBy(e => e.LeaseId, StringComparer.Ordinal).Take(max)];
    }

    public async Task AcknowledgeAuditedAsync(string owner, IReadOnlyCollection<string> leaseIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(owner);
        ArgumentNullException.ThrowIfNull(leaseIds);
        foreach (var group in leaseIds.GroupBy(_layout.BucketOf))
        {
            foreach (var chunk in group.Chunk(LeasesPerScript))
            {
                var args = new List<RedisValue>(chunk.Length + 2) { _layout.BucketPrefix(group.Key), owner };
                args.AddRange(chunk.Select(id => (RedisValue)id));
                await RunAsync(LeaseScripts.Acknowledge, group.Key, args, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public async Task<IReadOnlyList<string>> ListUnauditedOwnersAsync(CancellationToken cancellationToken = default)
    {
        var replies = await ForEachBucketAsync(b => ExecuteAsync("SMEMBERS", [(RedisKey)(_layout.BucketPrefix(b) + "unaudited-owners")], cancellationToken))
            .ConfigureAwait(false);
        return [.. replies.SelectMany(r => r.AsArray()).Select(v => v.AsString()!).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
    }

    public async Task HeartbeatAsync(string replica, TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(replica);
        await ExecuteAsync("SET", [(RedisKey)(ReplicasPrefix + "replica:" + replica), "1", "PX", Math.Max(1, (long)ttl.TotalMilliseconds)], cancellationToken)
            .ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<string>?> BeginRecoveryAsync(string owner, string recoverer, TimeSpan hold, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(owner);
        ArgumentNullException.ThrowIfNull(recoverer);
        var reply = await RunReplicasScriptAsync(LeaseScripts.BeginRecovery, [ReplicasPrefix, owner, recoverer, Math.Max(1, (long)hold.TotalMilliseconds)],
            cancellationToken).ConfigureAwait(false);
        return reply.IsNull ? null : [.. reply.AsArray().Select(v => v.AsString()!).Order(StringComparer.Ordinal)];
    }

    public async Task EndRecoveryAsync(string owner, string recoverer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(owner);
        ArgumentNullException.ThrowIfNull(recoverer);
        // Whether the outbox is empty is read first (its entries live in the buckets, elsewhere): an owner that came back
        // and marked more in between keeps its recoverers listed only until its next recovery ends.
        var sizes = await ForEachBucketAsync(b => ExecuteAsync("ZCARD", [(RedisKey)OutboxKey(b, owner)], cancellationToken)).ConfigureAwait(false);
        var empty = sizes.All(r => r.AsInt64() == 0) ? "1" : "0";
        await RunReplicasScriptAsync(LeaseScripts.EndRecovery, [ReplicasPrefix, owner, recoverer, empty], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Prefix of heartbeats and recovery holds: one slot of their own in a cluster.</summary>
    private string ReplicasPrefix => _layout.Buckets == 1 ? _layout.Prefix : _layout.Prefix + "{replicas}:";

    private string OutboxKey(int bucket, string owner) => _layout.BucketPrefix(bucket) + "unaudited:" + owner;

    private async Task<RedisResult> RunReplicasScriptAsync(JitBroker.Redis.LuaScript script, IReadOnlyList<RedisValue> args, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            // KEYS[1] routes the script to the replicas' slot; every key it touches carries the same prefix.
            return await _redis.EvalAsync(script, [(RedisKey)(ReplicasPrefix + "replicas")], args, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (RedisFailures.IsRedisFailure(ex))
        {
            throw Unavailable(ex);
        }
    }
}
