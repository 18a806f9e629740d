using JitBroker.Core;
using NUnit.Framework;

namespace JitBroker.Core.Tests;

/// <summary>The bounded memory of lease.revoked records this process wrote (used against duplicate records after a failover).</summary>
[TestFixture]
public sealed class RecentRevocationRecordsTests
{
    [Test]
    public void A_lease_is_claimed_once_until_given_back()
    {
        var records = new RecentRevocationRecords(4);
        Assert.That(records.TryAdd("l1"), Is.True);
        Assert.That(records.TryAdd("l1"), Is.False, "a second record for the same lease");
        Assert.That(records.Contains("l1"), Is.True);

        records.Remove("l1");
        Assert.That(records.Contains("l1"), Is.False);
        Assert.That(records.Count, Is.Zero);
        Assert.That(records.TryAdd("l1"), Is.True, "given back, it may be claimed again");
        Assert.That(records.Count, Is.EqualTo(1));
    }

    [Test]
    public void The_oldest_are_forgotten_first_and_the_count_never_passes_the_capacity()
    {
        var records = new RecentRevocationRecords(3);
        foreach (var id in new[] { "a", "b", "c", "d", "e" })
        {
            Assert.That(records.TryAdd(id), Is.True);
            Assert.That(records.Count, Is.LessThanOrEqualTo(3));
        }

        Assert.Multiple(() =>
        {
            Assert.That(records.Contains("a"), Is.False);
            Assert.That(records.Contains("b"), Is.False);
            Assert.That(new[] { "c", "d", "e" }.All(records.Contains), Is.True);
            Assert.That(records.Count, Is.EqualTo(3));
        });
    }

    [Test]
    public void A_given_back_id_does_not_make_the_count_drift()
    {
        var records = new RecentRevocationRecords(2);
        records.TryAdd("a");
        records.Remove("a"); // its queue entry stays behind
        records.TryAdd("b");
        records.TryAdd("c");
        records.TryAdd("d"); // trimming meets the stale "a" first, then forgets "b"

        Assert.Multiple(() =>
        {
            Assert.That(records.Count, Is.EqualTo(2));
            Assert.That(records.Contains("b"), Is.False);
            Assert.That(records.Contains("c") && records.Contains("d"), Is.True);
        });
    }

    [Test]
    public void Concurrent_claims_of_distinct_ids_all_succeed_and_leave_at_most_the_capacity()
    {
        var records = new RecentRevocationRecords(1_000);
        var claimed = 0;
        Parallel.For(0, 20_000, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            if (records.TryAdd($"lease-{i}"))
            {
                Interlocked.Increment(ref claimed);
            }
        });

        Assert.That(claimed, Is.EqualTo(20_000));
        // Adders trimming at the same moment may each forget one more than needed: never more than the capacity, never
        // more than one per adder below it.
        Assert.That(records.Count, Is.InRange(1_000 - 8, 1_000));
        Assert.That(Enumerable.Range(0, 20_000).Count(i => records.Contains($"lease-{i}")), Is.EqualTo(records.Count), "the counter matches the map");
    }

    [Test]
    public void Concurrent_claims_of_one_id_succeed_exactly_once()
    {
        var records = new RecentRevocationRecords(16);
        var claimed = 0;
        Parallel.For(0, 1_000, new ParallelOptions { MaxDegreeOfParallelism = 8 }, _ =>
        {
            if (records.TryAdd("same"))
            {
                Interlocked.Increment(ref claimed);
            }
        });

        Assert.That(claimed, Is.EqualTo(1));
    }
}
