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
        RedisValue[] args =
        [
            _prefix, query.AgentId ?? "", query.TaskId ?? "",
            query.State is { } state ? ((int)state).ToString(System.Globalization.CultureInfo.InvariantCulture) : "",
            query.IssuerKind ?? "",
            query.ExpiresBefore is { } before ? LeaseCodec.Ms(before).ToString(System.Globalization.CultureInfo.InvariantCulture) : "",
            query.PageSize, query.PageToken ?? "", ListScanBudget,
        ];
        var reply = (await RunAsync(LeaseScripts.List, args, cancellationToken).ConfigureAwait(false)).AsArray();
        var leases = LeaseCodec.FromPairs(reply, offset: 1);
        var next = reply[0].AsString();
        return new LeasePage(leases, string.IsNullOrEmpty(next) ? null : next);
    }

    public async Task<IReadOnlyList<Lease>> ListChildrenAsync(string parentLeaseId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(parentLeaseId);
        var reply = await RunAsync(LeaseScripts.FetchSet, [_prefix, $"{_prefix}children:{{{parentLeaseId}}}"], cancellationToken).ConfigureAwait(false);
        return [.. LeaseCodec.FromPairs(reply.AsArray()).OrderBy(l => l.LeaseId, StringComparer.Ordinal)];
    }

    public async Task<Lease?> RenewAsync(string leaseId, DateTimeOffset newExpiresAt, string credentialFingerprint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(leaseId);
        ArgumentException.ThrowIfNullOrEmpty(credentialFingerprint);
        var (field, value) = LeaseCodec.Fingerprint(credentialFingerprint);
        var other = field == LeaseCodec.FingerprintDigest ? LeaseCodec.FingerprintText : LeaseCodec.FingerprintDigest;
        var expires = LeaseCodec.Ms(newExpiresAt);
        var reply = await RunAsync(LeaseScripts.Renew, [_prefix, leaseId, expires, field, value, other], cancellationToken).ConfigureAwait(false);
        return reply.IsNull ? null : LeaseCodec.FromFields(leaseId, reply.AsArray());
    }

    /// <inheritdoc />
    /// <remarks>O(1): sizes of the due set and the per-state indexes, read in one script so they are consistent.</remarks>
    public async Task<IReadOnlyDictionary<LeaseState, long>> CountByStateAsync(CancellationToken cancellationToken = default)
    {
        var counts = (await RunAsync(LeaseScripts.Count, [_prefix], cancellationToken).ConfigureAwait(false)).AsArray();
        return new Dictionary<LeaseState, long>
        {
            [LeaseState.Active] = counts[0].AsInt64(),
            [LeaseState.Revoking] = counts[1].AsInt64(),
            [LeaseState.Revoked] = counts[2].AsInt64(),
            [LeaseState.RevokeFailed] = counts[3].AsInt64(),
        };
    }
}
