using JitBroker.Leases.Redis;
using JitBroker.Redis;
using JitBroker.Redis.Tests.Harness;
using NUnit.Framework;

namespace JitBroker.Leases.Tests.Redis.Cluster;

/// <summary>
/// The documented ACL in Cluster mode, and the proof that every key the stores write sits in the slot its bucket
/// (or store) tag names: Redis 7.0 refuses a script's undeclared key only when another node serves it, so a
/// cross-slot key on the same node would pass silently — the key scan catches it.
/// </summary>
[TestFixture]
[CancelAfter(180_000)]
public sealed class ClusterLayoutTests
{
    [Test]
    public async Task Every_store_works_on_a_cluster_as_the_documented_user_with_no_refusal_logged_and_every_key_in_its_tag_slot()
    {
        var cluster = await SharedCluster.ClusterAsync();
        var layout = new RedisKeyLayout("jitbroker:layout:", SharedCluster.Buckets);
        await using var broker = new RedisConnection(SharedCluster.BrokerOptions(cluster));

        await DocumentedAclTests.RunEveryStoreAsync(broker, layout);

        Assert.That(await cluster.RefusalsAsync(), Is.Empty, "ACL LOG on every node");
        var keys = new List<string>();
        foreach (var primary in await cluster.PrimariesAsync())
        {
            keys.AddRange((await cluster.CliAsync(primary, ["--scan", "--pattern", "jitbroker:layout:*"])).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }

        var tagged = Enumerable.Range(0, layout.Buckets).Select(layout.BucketPrefix).Append(layout.KillSwitchPrefix).Append(layout.ApprovalPrefix).ToList();
        Assert.That(keys, Has.Count.GreaterThan(10));
        foreach (var key in keys.Take(8))
        {
            var slot = await cluster.CliAsync(cluster.Nodes[0], ["CLUSTER", "KEYSLOT", key]);
            Assert.That(RedisKeyLayout.SlotOf(key).ToString(System.Globalization.CultureInfo.InvariantCulture), Is.EqualTo(slot.Trim()), "our CRC16 agrees with Redis: " + key);
        }

        foreach (var key in keys.Where(k => !k.StartsWith("jitbroker:layout:replay:", StringComparison.Ordinal)))
        {
            var owner = tagged.SingleOrDefault(p => key.StartsWith(p, StringComparison.Ordinal));
            Assert.That(owner, Is.Not.Null, $"key '{key}' has no bucket or store tag");
            Assert.That(RedisKeyLayout.SlotOf(key), Is.EqualTo(RedisKeyLayout.SlotOf(owner + "x")), key);
        }
    }

    [Test]
    public void Bucket_tags_spread_evenly_over_the_slot_range()
    {
        var layout = new RedisKeyLayout("jitbroker:", 16);
        var slots = Enumerable.Range(0, 16).Select(b => RedisKeyLayout.SlotOf(layout.BucketPrefix(b) + "due")).ToList();

        for (var b = 0; b < 16; b++)
        {
            Assert.That(slots[b], Is.InRange(b * 1024, (b * 1024) + 1023), $"bucket {b}");
        }

    }
}
