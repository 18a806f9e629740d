using System.Globalization;
using JitBroker.Core;
using JitBroker.Redis;
using StackExchange.Redis;

namespace JitBroker.Leases.Redis;

/// <summary>The outbox of revocation records (<see cref="IRevocationOutbox"/>) on Redis: see <see cref="LeaseScripts.Acknowledge"/>.</summary>
public sealed partial class RedisLeaseStore : IRevocationOutbox
{
    public async Task<IReadOnlyList<UnauditedRevocation>> ListUnauditedAsync(string owner, DateTimeOffset before, int max,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(owner);
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        var reply = await ExecuteAsync("ZRANGEBYSCORE",
            [OutboxKey(owner), "-inf", "(" + LeaseCodec.Ms(before).ToString(CultureInfo.InvariantCulture), "WITHSCORES", "LIMIT", 0, max],
            cancellationToken).ConfigureAwait(false);
        var items = reply.AsArray();
        var entries = new List<UnauditedRevocation>(items.Length / 2);
        for (var i = 0; i + 1 < items.Length; i += 2)
        {
            var ms = long.Parse(items[i + 1].AsString()!, NumberStyles.Integer, CultureInfo.InvariantCulture);
            entries.Add(new UnauditedRevocation(items[i].AsString()!, DateTimeOffset.FromUnixTimeMilliseconds(ms)));
        }

        return entries;
    }

    public async Task AcknowledgeAuditedAsync(string owner, IReadOnlyCollection<string> leaseIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(owner);
        ArgumentNullException.ThrowIfNull(leaseIds);
        foreach (var chunk in leaseIds.Chunk(LeasesPerScript))
        {
            var args = new List<RedisValue>(chunk.Length + 2) { _prefix, owner };
            args.AddRange(chunk.Select(id => (RedisValue)id));
            await RunAsync(LeaseScripts.Acknowledge, args, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<IReadOnlyList<string>> ListUnauditedOwnersAsync(CancellationToken cancellationToken = default)
    {
        var reply = await ExecuteAsync("SMEMBERS", [_prefix + "unaudited-owners"], cancellationToken).ConfigureAwait(false);
        return [.. reply.AsArray().Select(v => v.AsString()!).Order(StringComparer.Ordinal)];
    }

    public async Task HeartbeatAsync(string replica, TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(replica);
        await ExecuteAsync("SET", [_prefix + "replica:" + replica, "1", "PX", Math.Max(1, (long)ttl.TotalMilliseconds)], cancellationToken)
            .ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<string>?> BeginRecoveryAsync(string owner, string recoverer, TimeSpan hold, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(owner);
        ArgumentNullException.ThrowIfNull(recoverer);
        var reply = await RunAsync(LeaseScripts.BeginRecovery, [_prefix, owner, recoverer, Math.Max(1, (long)hold.TotalMilliseconds)], cancellationToken)
            .ConfigureAwait(false);
        return reply.IsNull ? null : [.. reply.AsArray().Select(v => v.AsString()!).Order(StringComparer.Ordinal)];
    }

    public async Task EndRecoveryAsync(string owner, string recoverer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(owner);
        ArgumentNullException.ThrowIfNull(recoverer);
        await RunAsync(LeaseScripts.EndRecovery, [_prefix, owner, recoverer], cancellationToken).ConfigureAwait(false);
    }

    private RedisKey OutboxKey(string owner) => _prefix + "unaudited:" + owner;
}
