using System.Globalization;
using JitBroker.Redis.Tests.Harness;
using NUnit.Framework;

namespace JitBroker.Leases.Tests.Redis.Cluster;

/// <summary>
/// One slot of a real cluster moved by hand, the way <c>redis-cli --cluster reshard</c> moves it: the target set
/// IMPORTING, the owner MIGRATING, then keys moved with MIGRATE. A test moves exactly the keys it names and leaves the
/// rest on the owner, so a script meets a half-moved slot deterministically; <see cref="FinishAsync"/> moves what is left
/// and hands the slot to the target on every primary.
/// </summary>
internal sealed class SlotMigration
{
    private readonly RedisClusterProcess _cluster;
    private readonly string _slot;
    private readonly string _targetId;

    private SlotMigration(RedisClusterProcess cluster, int slot, RedisServerProcess source, RedisServerProcess target, string targetId)
    {
        _cluster = cluster;
        _slot = slot.ToString(CultureInfo.InvariantCulture);
        Source = source;
        Target = target;
        _targetId = targetId;
    }

    public RedisServerProcess Source { get; }

    public RedisServerProcess Target { get; }

    public bool Finished { get; private set; }

    /// <summary>Starts moving <paramref name="slot"/> from its owner to <paramref name="target"/> (by default another primary).</summary>
    public static async Task<SlotMigration> BeginAsync(RedisClusterProcess cluster, int slot, RedisServerProcess? target = null)
    {
        var primaries = await cluster.PrimariesAsync();
        RedisServerProcess? source = null;
        foreach (var node in primaries)
        {
            if ((await OwnedRangesAsync(cluster, node)).Any(r => slot >= r.Low && slot <= r.High))
            {
                source = node;
            }
        }

        Assert.That(source, Is.Not.Null, $"no primary serves slot {slot}");
        target ??= primaries.First(n => n != source);
        Assert.That(target, Is.Not.EqualTo(source), "the target is another primary");
        var sourceId = (await cluster.CliAsync(source, ["CLUSTER", "MYID"])).Trim();
        var targetId = (await cluster.CliAsync(target, ["CLUSTER", "MYID"])).Trim();
        var text = slot.ToString(CultureInfo.InvariantCulture);
        Assert.That(await cluster.CliAsync(target, ["CLUSTER", "SETSLOT", text, "IMPORTING", sourceId]), Does.Contain("OK"));
        Assert.That(await cluster.CliAsync(source, ["CLUSTER", "SETSLOT", text, "MIGRATING", targetId]), Does.Contain("OK"));
        return new SlotMigration(cluster, slot, source!, target, targetId);
    }

    /// <summary>The slot ranges <paramref name="node"/> serves, by its own <c>CLUSTER NODES</c> line.</summary>
    public static async Task<List<(int Low, int High)>> OwnedRangesAsync(RedisClusterProcess cluster, RedisServerProcess node)
    {
        var self = (await cluster.CliAsync(node, ["CLUSTER", "NODES"])).Split('\n').First(l => l.Contains("myself", StringComparison.Ordinal));
        return [.. self.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(8).Where(r => !r.StartsWith('[')).Select(r =>
        {
            var parts = r.Split('-');
            return (int.Parse(parts[0], CultureInfo.InvariantCulture), int.Parse(parts[^1], CultureInfo.InvariantCulture));
        })];
    }

    /// <summary>Moves exactly these keys (each must exist on the owner) to the target.</summary>
    public async Task MoveAsync(params string[] keys)
    {
        foreach (var key in keys)
        {
            Assert.That((await _cluster.CliAsync(Source, ["EXISTS", key])).Trim(), Is.EqualTo("1"), $"{key} is on the owner before it moves");
        }

        await MigrateAsync(keys);
    }

    /// <summary>
    /// Moves up to <paramref name="count"/> of the keys still on the owner, whichever they are (a store under load may
    /// delete one in between: MIGRATE skips it); how many were listed, 0 once the owner holds none.
    /// </summary>
    public async Task<int> MoveSomeAsync(int count)
    {
        var keys = (await _cluster.CliAsync(Source, ["CLUSTER", "GETKEYSINSLOT", _slot, count.ToString(CultureInfo.InvariantCulture)]))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (keys.Length > 0)
        {
            await MigrateAsync(keys);
        }

        return keys.Length;
    }

    /// <summary>Moves every key left in the slot and gives the slot to the target on every primary.</summary>
    public async Task FinishAsync()
    {
        Finished = true;
        while (await MoveSomeAsync(100) > 0)
        {
        }

        var primaries = await _cluster.PrimariesAsync();
        foreach (var node in new[] { Target, Source }.Concat(primaries.Where(p => p != Target && p != Source)))
        {
            Assert.That(await _cluster.CliAsync(node, ["CLUSTER", "SETSLOT", _slot, "NODE", _targetId]), Does.Contain("OK"));
        }
    }

    private async Task MigrateAsync(string[] keys)
    {
        var reply = await _cluster.CliAsync(Source, ["MIGRATE", "127.0.0.1", Target.Port.ToString(CultureInfo.InvariantCulture), "", "0", "5000",
            "AUTH", DocumentedAcl.AdminPassword, "KEYS", .. keys]);
        Assert.That(reply, Does.Contain("OK"), "MIGRATE: " + reply);
    }
}
