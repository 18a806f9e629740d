using JitBroker.Core;
using JitBroker.Redis;
using StackExchange.Redis;

namespace JitBroker.Leases.Redis;

/// <summary>Bulk revocation (<see cref="IRevocationSchedule"/>) on Redis: see <see cref="LeaseScripts.Schedule"/>.</summary>
public sealed partial class RedisLeaseStore : IRevocationSchedule
{
    /// <summary>Agents per scheduling script: bounds how long one script holds Redis (about 10k leases ≈ 50 ms).</summary>
    public const int AgentsPerScript = 64;

    /// <summary>Lease ids per scheduling script.</summary>
    public const int LeasesPerScript = 1000;

    private const int OrphanScanCount = 500;
    private static readonly long BatchRetentionMs = (long)InMemoryLeaseStore.BatchRetention.TotalMilliseconds;

    public async Task<IReadOnlyList<string>> ListAgentsAsync(CancellationToken cancellationToken = default)
    {
        var replies = await ForEachBucketAsync(b => ExecuteAsync("SMEMBERS", [(RedisKey)(_layout.BucketPrefix(b) + "agents")], cancellationToken))
            .ConfigureAwait(false);
        return [.. replies.SelectMany(r => r.AsArray()).Select(v => v.AsString()!).Distinct(StringComparer.Ordinal)];
    }

    /// <inheritdoc />
    /// <remarks>
    /// Lists the agents' lease ids (one script per <see cref="AgentsPerScript"/> agents), then schedules them in
    /// chunks of <see cref="LeasesPerScript"/>: each chunk is atomic and Redis serves other callers between chunks,
    /// so a 10,000-lease block never stalls introspection for the whole batch. A lease recorded after the listing
    /// is not in this batch; for a block, its own request's second kill-switch check revokes it.
    /// </remarks>
    public async Task<RevocationBatch> ScheduleAgentsAsync(IReadOnlyCollection<string> agentIds, DateTimeOffset now, string? batchId,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(agentIds);
        var chunks = agentIds.Distinct(StringComparer.Ordinal).Chunk(AgentsPerScript).ToList();
        // Every bucket may hold leases of these agents (their tasks are spread by placement): each bucket is listed
        // on its own shard, all at once.
        var perBucket = await ForEachBucketAsync(async b =>
        {
            var ids = new List<string>();
            foreach (var chunk in chunks)
            {
                var args = new List<RedisValue>(chunk.Length + 1) { _layout.BucketPrefix(b) };
                args.AddRange(chunk.Select(a => (RedisValue)a));
                ids.AddRange((await RunAsync(LeaseScripts.AgentLeases, b, args, cancellationToken).ConfigureAwait(false)).AsArray().Select(v => v.AsString()!));
            }

            return ids;
        }).ConfigureAwait(false);

        return await ScheduleLeasesAsync([.. perBucket.SelectMany(ids => ids)], now, batchId, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>
    /// One script per <see cref="LeasesPerScript"/> ids: each chunk is atomic, and a chunk that ran stays scheduled
    /// even if a later one fails (the caller sees the failure and may repeat; scheduling is idempotent).
    /// </remarks>
    public async Task<RevocationBatch> ScheduleLeasesAsync(IReadOnlyCollection<string> leaseIds, DateTimeOffset now, string? batchId,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(leaseIds);
        // A lease and all its descendants share a bucket, so each bucket's part is scheduled by that bucket's scripts
        // (on its own shard, all buckets at once); the batch is counted per bucket and summed by GetProgressAsync.
        var byBucket = leaseIds.Distinct(StringComparer.Ordinal).ToLookup(_layout.BucketOf);
        var parts = await Task.WhenAll(byBucket.Select(async group =>
        {
            var part = new RevocationBatch(batchId, 0, 0, 0);
            foreach (var chunk in group.Chunk(LeasesPerScript))
            {
                var args = new List<RedisValue>(chunk.Length + 4) { _layout.BucketPrefix(group.Key), LeaseCodec.Ms(now), batchId ?? "", BatchRetentionMs };
                args.AddRange(chunk.Select(m => (RedisValue)m));
                // Durable: an operator's (or the kill switch's) schedule lost in a failover would leave the leases active.
                var counts = (await RunDurableAsync(LeaseScripts.Schedule, group.Key, args, cancellationToken).ConfigureAwait(false)).AsArray();
                part = part.Add(new RevocationBatch(batchId, counts[0].AsInt64(), counts[1].AsInt64(), counts[2].AsInt64()));
            }

            return part;
        })).ConfigureAwait(false);

        var batch = parts.Aggregate(new RevocationBatch(batchId, 0, 0, 0), (total, part) => total.Add(part));
        if (batch.Scheduled > 0)
        {
            _dueSignal?.LeaseDue(now);
        }

        return batch;
    }

    public async Task<RevocationProgress?> GetProgressAsync(string batchId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batchId);
        var replies = await ForEachBucketAsync(b => ExecuteAsync("HMGET", [BatchKey(b, batchId), "t", "r", "f"], cancellationToken)).ConfigureAwait(false);
        RevocationProgress? progress = null;
        foreach (var reply in replies)
        {
            var f = reply.AsArray();
            if (!f[0].IsNull)
            {
                progress = new RevocationProgress(batchId, (progress?.Total ?? 0) + Long(f[0]), (progress?.Revoked ?? 0) + Long(f[1]), (progress?.Failing ?? 0) + Long(f[2]));
            }
        }

        return progress;
    }

    /// <inheritdoc />
    /// <remarks>One full SSCAN cycle over the delegated-lease index, <c>500</c> members per script.</remarks>
    public async Task<long> ScheduleOrphansAsync(DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        var moved = await ForEachBucketAsync(async b =>
        {
            long bucketMoved = 0;
            var cursor = "0";
            do
            {
                var reply = (await RunAsync(LeaseScripts.ScheduleOrphans, b, [_layout.BucketPrefix(b), LeaseCodec.Ms(now), cursor, OrphanScanCount], cancellationToken)
                    .ConfigureAwait(false)).AsArray();
                cursor = reply[0].AsString()!;
                bucketMoved += reply[1].AsInt64();
            }
            while (cursor != "0");

            return bucketMoved;
        }).ConfigureAwait(false);

        var scheduled = moved.Sum();
        if (scheduled > 0)
        {
            _dueSignal?.LeaseDue(now);
        }

        return scheduled;
    }

    private RedisKey BatchKey(int bucket, string batchId) => $"{_layout.BucketPrefix(bucket)}batch:{{{batchId}}}";

    private static long Long(RedisResult v) => v.IsNull ? 0 : long.Parse(v.AsString()!, System.Globalization.CultureInfo.InvariantCulture);

    private async Task<RedisResult> ExecuteAsync(string command, IReadOnlyList<object> args, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            return await _redis.ExecuteAsync(command, args, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (RedisFailures.IsRedisFailure(ex))
        {
            throw Unavailable(ex);
        }
    }
}
