using JitBroker.Core;

namespace JitBroker.Testing;

/// <summary>
/// Shorthands tests use to set up and inspect a ledger through the members the broker itself calls: marking one lease
/// is a batch of one, listing a state pages through the operator listing.
/// </summary>
public static class LeaseStoreTestExtensions
{
    /// <summary><see cref="IRevocationQueue.MarkRevokedManyAsync"/> for one lease: true when this call changed its state.</summary>
    public static async Task<bool> MarkOneRevokedAsync(this IRevocationQueue queue, string leaseId, DateTimeOffset revokedAt, string? auditOwner = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(queue);
        return (await queue.MarkRevokedManyAsync([leaseId], revokedAt, auditOwner, cancellationToken).ConfigureAwait(false))[0];
    }

    /// <summary>Every lease in <paramref name="state"/>, all pages of <see cref="ILeaseQueries.ListAsync"/> (ordered by lease id).</summary>
    public static Task<IReadOnlyList<Lease>> ListAllInStateAsync(this ILeaseQueries queries, LeaseState state, CancellationToken cancellationToken = default) =>
        ListAllAsync(queries, state, cancellationToken);

    /// <summary>Every lease in the ledger whatever its state, all pages of <see cref="ILeaseQueries.ListAsync"/> (ordered by lease id).</summary>
    public static Task<IReadOnlyList<Lease>> ListAllAsync(this ILeaseQueries queries, CancellationToken cancellationToken = default) =>
        ListAllAsync(queries, null, cancellationToken);

    private static async Task<IReadOnlyList<Lease>> ListAllAsync(ILeaseQueries queries, LeaseState? state, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(queries);
        var leases = new List<Lease>();
        string? token = null;
        do
        {
            var page = await queries.ListAsync(new LeaseQuery { State = state, PageSize = 1000, PageToken = token }, cancellationToken).ConfigureAwait(false);
            leases.AddRange(page.Leases);
            token = page.NextPageToken;
        }
        while (token is not null);

        return leases;
    }
}
