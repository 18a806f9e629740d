namespace JitBroker.Core;

/// <summary>
/// Tells relying parties that credentials were revoked (the Shared Signals transmitter, docs/ssf.md). Called by
/// <see cref="LeaseRevoker"/> — the one place every revocation passes — for the leases whose state this call changed,
/// after they were marked revoked and before the revocation is reported done.
/// </summary>
public interface IRevocationSignals
{
    /// <summary>
    /// Durably queues the signals for <paramref name="leases"/> (revoked at <paramref name="revokedAt"/>) and returns once
    /// they are stored; delivery happens later, elsewhere. Throws when they could not be stored: the caller logs it and
    /// never undoes or delays the revocation itself.
    /// </summary>
    Task RevokedAsync(IReadOnlyList<Lease> leases, DateTimeOffset revokedAt, CancellationToken cancellationToken = default);
}
