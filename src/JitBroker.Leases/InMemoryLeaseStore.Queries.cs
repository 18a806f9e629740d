using JitBroker.Core;

namespace JitBroker.Leases;

/// <summary>Operator queries, delegation children and renewal.</summary>
public sealed partial class InMemoryLeaseStore
{
    public const int MaxPageSize = 1000;

    /// <inheritdoc />
    /// <remarks>A scan under the lock: fine for the embedded store's scale; the page token is the last lease id returned.</remarks>
    public Task<LeasePage> ListAsync(LeaseQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfLessThan(query.PageSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(query.PageSize, MaxPageSize);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            var page = _leases.Values
                .Where(l => Matches(l, query))
                .Where(l => query.PageToken is null || string.CompareOrdinal(l.LeaseId, query.PageToken) > 0)
                .OrderBy(l => l.LeaseId, StringComparer.Ordinal)
                .Take(query.PageSize + 1)
                .ToList();
            var more = page.Count > query.PageSize;
            if (more)
            {
                page.RemoveAt(page.Count - 1);
            }

            return Task.FromResult(new LeasePage(page, more ? page[^1].LeaseId : null));
        }
    }

    public Task<IReadOnlyList<Lease>> ListChildrenAsync(string parentLeaseId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(parentLeaseId);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            IReadOnlyList<Lease> children = _byParent.TryGetValue(parentLeaseId, out var ids)
                ? [.. ids.Select(id => _leases[id]).OrderBy(l => l.LeaseId, StringComparer.Ordinal)]
                : [];
            return Task.FromResult(children);
        }
    }

    public Task<Lease?> RenewAsync(string leaseId, DateTimeOffset newExpiresAt, string credentialFingerprint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(leaseId);
        ArgumentException.ThrowIfNullOrEmpty(credentialFingerprint);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            if (!_leases.TryGetValue(leaseId, out var lease) || lease.State != LeaseState.Active)
            {
                return Task.FromResult<Lease?>(null);
            }

            return Task.FromResult<Lease?>(Replace(lease, lease with
            {
                ExpiresAt = newExpiresAt,
                DueAt = newExpiresAt,
                CredentialFingerprint = credentialFingerprint,
            }));
        }
    }

    public Task<IReadOnlyDictionary<LeaseState, long>> CountByStateAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            var counts = Enum.GetValues<LeaseState>().ToDictionary(s => s, _ => 0L);
            foreach (var lease in _leases.Values)
            {
                counts[lease.State]++;
            }

            return Task.FromResult<IReadOnlyDictionary<LeaseState, long>>(counts);
        }
    }

    private static bool Matches(Lease lease, LeaseQuery q) =>
        (q.AgentId is null || string.Equals(lease.AgentId, q.AgentId, StringComparison.Ordinal)) &&
        (q.TaskId is null || string.Equals(lease.TaskId, q.TaskId, StringComparison.Ordinal)) &&
        (q.State is null || lease.State == q.State) &&
        (q.IssuerKind is null || string.Equals(lease.IssuerKind, q.IssuerKind, StringComparison.Ordinal)) &&
        (q.ExpiresBefore is null || lease.ExpiresAt < q.ExpiresBefore);
}
