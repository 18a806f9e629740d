namespace JitBroker.Core;

/// <summary>
/// Tells relying parties that credentials were revoked (the Shared Signals transmitter, docs/ssf.md). Called by
/// <see cref="LeaseRevoker"/> — the one place every revocation passes — for the leases the backends called done,
/// before they are marked revoked (so a crash between the two can only leave a signal for a revocation still to be
/// recorded, never a recorded revocation without its signal); and by the kill switch for the blocked agents.
/// </summary>
public interface IRevocationSignals
{
    /// <summary>
    /// Durably queues the signals for <paramref name="leases"/> (revoked at <paramref name="revokedAt"/>) and returns once
    /// they are stored; delivery happens later, elsewhere. Throws when they could not be stored: the caller then does not
    /// mark the leases revoked, so their claims lapse and the revocation (and its signal) is tried again.
    /// </summary>
    Task RevokedAsync(IReadOnlyList<Lease> leases, DateTimeOffset revokedAt, CancellationToken cancellationToken = default);

    /// <summary>
    /// Durably queues one subject-level signal per agent: "every credential whose subject is this agent, issued at or
    /// before <paramref name="revokedAt"/>, is revoked" — sent by the kill switch before the per-credential revocations
    /// start, so a relying party that understands it refuses all of them at once. Throws when it could not be stored.
    /// </summary>
    Task SubjectsRevokedAsync(IReadOnlyList<string> agentIds, DateTimeOffset revokedAt, CancellationToken cancellationToken = default);
}
