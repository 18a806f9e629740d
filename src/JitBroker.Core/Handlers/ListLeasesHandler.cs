namespace JitBroker.Core.Handlers;

/// <summary>The operator's view of the ledger: filtered, paged, at most 1000 leases a page.</summary>
public sealed class ListLeasesHandler
{
    private readonly ILeaseQueries _leases;

    public ListLeasesHandler(ILeaseQueries leases) => _leases = leases;

    public Task<LeasePage> ListAsync(LeaseQuery query, CancellationToken cancellationToken = default) =>
        _leases.ListAsync(query with { PageSize = Math.Clamp(query.PageSize, 1, 1000) }, cancellationToken);
}
