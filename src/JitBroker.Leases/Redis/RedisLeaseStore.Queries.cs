using JitBroker.Core;
using JitBroker.Redis;
using StackExchange.Redis;

namespace JitBroker.Leases.Redis;

/// <summary>Operator queries, delegation children, renewal and counts.</summary>
public sealed partial class RedisLeaseStore
{
    /// <summary>Most lease records one <see cref="ListAsync"/> call examines, so a selective filter cannot block Redis for long.</summary>
    public const int ListScanBudget = 10_000;

    /// <inheritdoc />
    /// <remarks>
    /// With <see cref="LeaseQuery.AgentId"/> the candidates come from that agent's task indexes (cost: the
    /// agent's leases; a task id alone has no index, task ids being unique only per agent); otherwise from the id index in id order (cost: the leases examined). The other filters
    /// are applied per record. One call examines at most <see cref="ListScanBudget"/> records: a page can then
    /// be short (even empty) yet carry a <see cref="LeasePage.NextPageToken"/> — keep paging until it is null.
    /// The page token is the last lease id examined.
    /// </remarks>
    public async Task<LeasePage> ListAsync(LeaseQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfLessThan(query.PageSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(query.PageSize, InMemoryLeaseStore.MaxPageSize);
        var budget = Math.Max(1, ListScanBudget / Buckets);
        RedisValue[] Args(int bucket) =>
        [
            _layout.BucketPrefix(bucket), query.AgentId ?? "", query.TaskId ?? "",
            query.State is { } state ? ((int)state).ToString(System.Globalization.CultureInfo.InvariantCulture) : "",
            query.IssuerKind ?? "",
            query.ExpiresBefore is { } before ? LeaseCodec.Ms(before).ToString(System.Globalization.CultureInfo.InvariantCulture) : "",
            query.PageSize, query.PageToken ?? "", budget,
        ];
        var replies = await ForEachBucketAsync(b => RunAsync(LeaseScripts.List, b, Args(b), cancellationToken)).ConfigureAwait(false);

        // Each bucket answers the matches after the token in id order and a token of its own: everything up to it was
        // examined there ('' when the bucket is exhausted). Merged, a match is certain to be in order only up to the
        // smallest bucket token; with one bucket this is exactly that bucket's page.
        string? limit = null;
        var leases = new List<Lease>();
        foreach (var reply in replies)
        {
            var items = reply.AsArray();
            var next = items[0].AsString();
            if (!string.IsNullOrEmpty(next) && (limit is null || string.CompareOrdinal(next, limit) < 0))
            {
                limit = next;
            }

            leases.AddRange(LeaseCodec.FromPairs(items, _mac, offset: 1));
        }

        var page = leases
            .Where(l => limit is null || string.CompareOrdinal(l.LeaseId, limit) <= 0)
            .OrderBy(l => l.LeaseId, StringComparer.Ordinal)
            .ToList();
        if (page.Count > query.PageSize)
        {
            page.RemoveRange(query.PageSize, page.Count - query.PageSize);
            limit = page[^1].LeaseId;
        }

        return new LeasePage(page, limit);
    }

    public async Task<IReadOnlyList<Lease>> ListChildrenAsync(string parentLeaseId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(parentLeaseId);
        var bucket = _layout.BucketOf(parentLeaseId);
        var prefix = _layout.BucketPrefix(bucket);
        var reply = await RunAsync(LeaseScripts.FetchSet, bucket, [prefix, $"{prefix}children:{{{parentLeaseId}}}"], cancellationToken).ConfigureAwait(false);
        return [.. LeaseCodec.FromPairs(reply.AsArray(), _mac).OrderBy(l => l.LeaseId, StringComparer.Ordinal)];
    }

    public async Task<Lease?> RenewAsync(string leaseId, DateTimeOffset newExpiresAt, string credentialFingerprint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(leaseId);
        ArgumentException.ThrowIfNullOrEmpty(credentialFingerprint);
        var (field, value) = LeaseCodec.Fingerprint(credentialFingerprint);
        var other = field == LeaseCodec.FingerprintDigest ? LeaseCodec.FingerprintText : LeaseCodec.FingerprintDigest;
        var expires = LeaseCodec.Ms(newExpiresAt);
        var bucket = _layout.BucketOf(leaseId);
        var reply = await RunAsync(LeaseScripts.Renew, bucket, [_layout.BucketPrefix(bucket), leaseId, expires, field, value, other], cancellationToken).ConfigureAwait(false);
        if (reply.IsNull)
        {
            return null;
        }

        _dueSignal?.LeaseDue(newExpiresAt);
        return LeaseCodec.FromFields(leaseId, reply.AsArray(), _mac);
    }

    /// <inheritdoc />
    /// <remarks>
    /// O(buckets): sizes of the due set and the per-state indexes, read in one script per bucket so each bucket's
    /// figures are consistent (across buckets they are summed from slightly different instants).
    /// </remarks>
    public async Task<IReadOnlyDictionary<LeaseState, long>> CountByStateAsync(CancellationToken cancellationToken = default)
    {
        var replies = await ForEachBucketAsync(b => RunAsync(LeaseScripts.Count, b, [_layout.BucketPrefix(b)], cancellationToken)).ConfigureAwait(false);
        var sums = new long[4];
        foreach (var reply in replies)
        {
            var counts = reply.AsArray();
            for (var i = 0; i < sums.Length; i++)
            {
                sums[i] += counts[i].AsInt64();
            }
        }

        return new Dictionary<LeaseState, long>
        {
            [LeaseState.Active] = sums[0],
            [LeaseState.Revoking] = sums[1],
            [LeaseState.Revoked] = sums[2],
            [LeaseState.RevokeFailed] = sums[3],
        };
    }
}
