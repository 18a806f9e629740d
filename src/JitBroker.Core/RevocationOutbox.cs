namespace JitBroker.Core;

/// <summary>A lease the ledger marked revoked whose <c>lease.revoked</c> record its replica may not have written yet.</summary>
public sealed record UnauditedRevocation(string LeaseId, DateTimeOffset RevokedAt);

/// <summary>
/// The ledger's outbox of revocation records. <see cref="IRevocationQueue.MarkRevokedManyAsync"/> with an audit owner adds an
/// entry in the same atomic step that marks the lease, so a replica that dies between marking a lease and writing its
/// <c>lease.revoked</c> event leaves evidence behind; <see cref="UnauditedRevocationRecovery"/> turns that evidence into
/// exactly one event. The owner is the replica identity whose audit chain the event belongs in.
/// </summary>
public interface IRevocationOutbox
{
    /// <summary>Entries of <paramref name="owner"/> marked before <paramref name="before"/>, oldest first, at most <paramref name="max"/>.</summary>
    Task<IReadOnlyList<UnauditedRevocation>> ListUnauditedAsync(string owner, DateTimeOffset before, int max, CancellationToken cancellationToken = default);

    /// <summary>Removes entries whose event is in the owner's (or a recoverer's) audit chain.</summary>
    Task AcknowledgeAuditedAsync(string owner, IReadOnlyCollection<string> leaseIds, CancellationToken cancellationToken = default);

    /// <summary>Owners with at least one entry.</summary>
    Task<IReadOnlyList<string>> ListUnauditedOwnersAsync(CancellationToken cancellationToken = default);

    /// <summary>Says this replica is alive for <paramref name="ttl"/>; nobody else recovers its outbox meanwhile.</summary>
    Task HeartbeatAsync(string replica, TimeSpan ttl, CancellationToken cancellationToken = default);

    /// <summary>
    /// Takes the right to recover <paramref name="owner"/>'s outbox for <paramref name="hold"/>: refused (null) while the
    /// owner is alive (unless it is the recoverer itself) or another recoverer holds it and is alive (its heartbeat has
    /// not lapsed: one killed mid-pass does not block the outbox for the rest of its hold). Returns every replica that
    /// ever began recovering this outbox, this one included — their chains may already hold recovered events.
    /// </summary>
    Task<IReadOnlyList<string>?> BeginRecoveryAsync(string owner, string recoverer, TimeSpan hold, CancellationToken cancellationToken = default);

    /// <summary>Releases the right; once the outbox is empty the list of recoverers is forgotten too.</summary>
    Task EndRecoveryAsync(string owner, string recoverer, CancellationToken cancellationToken = default);
}

/// <summary>Searches a replica's audit chain (in production its Redis mirror stream, which holds every record the file holds).</summary>
public interface IAuditChainIndex
{
    /// <summary>Lease ids of the <c>lease.revoked</c> records the replica's chain gained since <paramref name="since"/>.</summary>
    Task<IReadOnlySet<string>> RevokedLeaseIdsAsync(string replica, DateTimeOffset since, CancellationToken cancellationToken = default);
}
