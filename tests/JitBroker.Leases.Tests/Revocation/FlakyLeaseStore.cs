using JitBroker.Core;

namespace JitBroker.Leases.Tests.Revocation;

/// <summary>A lease store that can be made unreachable, as a Redis store is during an outage.</summary>
internal sealed class FlakyLeaseStore(ILeaseStore inner) : ILeaseStore
{
    /// <summary>Claims fail with "lease store unavailable".</summary>
    public bool ClaimsFail { get; set; }

    /// <summary>Only claims of due leases fail; the next-due look still answers (Redis out of memory refuses the claim's writes).</summary>
    public bool ClaimDueFails { get; set; }

    /// <summary>Recording outcomes (revoked / failed) fails with "lease store unavailable".</summary>
    public bool MarksFail { get; set; }

    public int ClaimCalls { get; private set; }

    public Task PutAsync(Lease lease, CancellationToken cancellationToken = default) => inner.PutAsync(lease, cancellationToken);

    public Task PutWithinCapsAsync(Lease lease, ActiveLeaseCaps caps, CancellationToken cancellationToken = default) =>
        inner.PutWithinCapsAsync(lease, caps, cancellationToken);

    public Task<Lease?> GetAsync(string leaseId, CancellationToken cancellationToken = default) => inner.GetAsync(leaseId, cancellationToken);

    public Task<IReadOnlyList<Lease>> ListByTaskAsync(string agentId, string taskId, CancellationToken cancellationToken = default) =>
        inner.ListByTaskAsync(agentId, taskId, cancellationToken);

    public Task<IReadOnlyList<Lease>> ClaimDueAsync(DateTimeOffset now, int max, TimeSpan claimTimeout, LedgerRevocation? ledger = null,
        CancellationToken cancellationToken = default)
    {
        ClaimCalls++;
        return ClaimsFail || ClaimDueFails || (MarksFail && ledger is not null) ? throw Outage() : inner.ClaimDueAsync(now, max, claimTimeout, ledger, cancellationToken);
    }

    public int NextDueCalls { get; private set; }

    public Task<DateTimeOffset?> NextDueAsync(DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        NextDueCalls++;
        return ClaimsFail ? throw Outage() : inner.NextDueAsync(now, cancellationToken);
    }

    public Task<Lease?> TryClaimAsync(string leaseId, DateTimeOffset now, TimeSpan claimTimeout, CancellationToken cancellationToken = default) =>
        inner.TryClaimAsync(leaseId, now, claimTimeout, cancellationToken);

    public Task<IReadOnlyList<TreeClaim>> ClaimTaskAsync(string agentId, string taskId, DateTimeOffset now, TimeSpan claimTimeout,
        LedgerRevocation? ledger = null, CancellationToken cancellationToken = default) =>
        MarksFail && ledger is not null ? throw Outage() : inner.ClaimTaskAsync(agentId, taskId, now, claimTimeout, ledger, cancellationToken);

    public Task<IReadOnlyList<TreeClaim>> ClaimWithDescendantsAsync(IReadOnlyList<string> rootLeaseIds, DateTimeOffset now, TimeSpan claimTimeout,
        CancellationToken cancellationToken = default) =>
        inner.ClaimWithDescendantsAsync(rootLeaseIds, now, claimTimeout, cancellationToken);

    public Task<IReadOnlyList<bool>> MarkRevokedManyAsync(IReadOnlyList<string> leaseIds, DateTimeOffset revokedAt, string? auditOwner = null,
        CancellationToken cancellationToken = default) =>
        MarksFail ? throw Outage() : inner.MarkRevokedManyAsync(leaseIds, revokedAt, auditOwner, cancellationToken);

    public Task MarkRevokeFailedAsync(string leaseId, string error, DateTimeOffset nextAttemptAt, CancellationToken cancellationToken = default) =>
        MarksFail ? throw Outage() : inner.MarkRevokeFailedAsync(leaseId, error, nextAttemptAt, cancellationToken);

    public Task<LeasePage> ListAsync(LeaseQuery query, CancellationToken cancellationToken = default) => inner.ListAsync(query, cancellationToken);

    public Task<IReadOnlyList<Lease>> ListChildrenAsync(string parentLeaseId, CancellationToken cancellationToken = default) =>
        inner.ListChildrenAsync(parentLeaseId, cancellationToken);

    public Task<Lease?> RenewAsync(string leaseId, DateTimeOffset newExpiresAt, string credentialFingerprint, CancellationToken cancellationToken = default) =>
        inner.RenewAsync(leaseId, newExpiresAt, credentialFingerprint, cancellationToken);

    public Task<IReadOnlyDictionary<LeaseState, long>> CountByStateAsync(CancellationToken cancellationToken = default) =>
        inner.CountByStateAsync(cancellationToken);

    private static BrokerException Outage() =>
        new(BrokerFailure.Unavailable, Reasons.LeaseStoreUnavailable, "The lease store cannot be reached.");
}
