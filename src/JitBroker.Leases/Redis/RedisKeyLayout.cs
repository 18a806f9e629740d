using System.Globalization;
using System.Text;
using JitBroker.Core;

namespace JitBroker.Leases.Redis;

/// <summary>
/// Where each key lives. With one bucket (standalone, Sentinel) the names are the historical ones (<c>P due</c>,
/// <c>P lease:{id}</c> …), so an existing ledger is read as before. With N &gt; 1 buckets (Redis Cluster) every lease
/// lives in one bucket and all keys of a bucket start with <c>P{tag}:</c>: the hash tag puts them in one slot, so
/// each script, which only touches one bucket, is single-slot. The kill switch and approvals get their own tags.
/// </summary>
/// <remarks>
/// A lease's bucket is its id's placement (<see cref="LeaseIds.PlacementOf"/>) modulo N: the broker gives a task's
/// root leases one placement and a delegated lease its parent's, so a delegation tree shares a bucket and cascades
/// stay atomic. Bucket tags are chosen so that bucket b hashes into slot range [b·16384/N, (b+1)·16384/N): with the
/// even contiguous ranges <c>redis-cli --cluster create</c> assigns, buckets spread evenly over the primaries.
/// </remarks>
public sealed class RedisKeyLayout
{
    /// <summary>Most buckets: one per placement.</summary>
    public const int MaxBuckets = LeaseIds.Placements;

    private const int Slots = 16384;
    private readonly string[] _bucketPrefixes;

    public RedisKeyLayout(string keyPrefix, int buckets = 1)
    {
        ArgumentException.ThrowIfNullOrEmpty(keyPrefix);
        ArgumentOutOfRangeException.ThrowIfLessThan(buckets, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(buckets, MaxBuckets);
        if (buckets > 1 && keyPrefix.Contains('{', StringComparison.Ordinal))
        {
            throw new ArgumentException("With more than one bucket the key prefix must not contain '{' (it would override the buckets' hash tags).", nameof(keyPrefix));
        }

        Prefix = keyPrefix;
        Buckets = buckets;
        _bucketPrefixes = buckets == 1 ? [keyPrefix] : [.. Enumerable.Range(0, buckets).Select(b => keyPrefix + "{" + Tag(b, buckets) + "}:")];
        KillSwitchPrefix = buckets == 1 ? keyPrefix : keyPrefix + "{blocks}:";
        ApprovalPrefix = buckets == 1 ? keyPrefix : keyPrefix + "{approvals}:";
    }

    public string Prefix { get; }

    public int Buckets { get; }

    /// <summary>Prefix of the kill switch's keys (<c>blocks</c>, <c>blocks:version</c>).</summary>
    public string KillSwitchPrefix { get; }

    /// <summary>Prefix of the approval keys (<c>approval:{id}</c>, <c>approvals:pending</c>).</summary>
    public string ApprovalPrefix { get; }

    /// <summary>Prefix of every key of bucket <paramref name="bucket"/>.</summary>
    public string BucketPrefix(int bucket) => _bucketPrefixes[bucket];

    public int BucketOf(string leaseId) => Buckets == 1 ? 0 : LeaseIds.PlacementOf(leaseId) % Buckets;

    /// <summary>Redis Cluster's slot of a key (CRC16/XMODEM of its hash tag, or of the whole key without one).</summary>
    public static int SlotOf(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var open = key.IndexOf('{', StringComparison.Ordinal);
        if (open >= 0)
        {
            var close = key.IndexOf('}', open + 1);
            if (close > open + 1)
            {
                key = key[(open + 1)..close];
            }
        }

        return Crc16(Encoding.UTF8.GetBytes(key)) % Slots;
    }

    // The first decimal string "b.k" (k = 0, 1, …) whose slot falls in the bucket's share of the slot range.
    private static string Tag(int bucket, int buckets)
    {
        int low = bucket * Slots / buckets, high = (bucket + 1) * Slots / buckets;
        for (var k = 0; ; k++)
        {
            var tag = bucket.ToString(CultureInfo.InvariantCulture) + "." + k.ToString(CultureInfo.InvariantCulture);
            var slot = Crc16(Encoding.ASCII.GetBytes(tag)) % Slots;
            if (slot >= low && slot < high)
            {
                return tag;
            }
        }
    }

    private static int Crc16(ReadOnlySpan<byte> data)
    {
        var crc = 0;
        foreach (var b in data)
        {
            crc ^= b << 8;
            for (var i = 0; i < 8; i++)
            {
                crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1;
            }
        }

        return crc & 0xFFFF;
    }
}
