namespace JitBroker.Core;

/// <summary>
/// What one bulk scheduling call found. <see cref="Scheduled"/> leases were active (or parked as failed) and are
/// now revoking and due at once; <see cref="InProgress"/> were already being revoked; <see cref="AlreadyRevoked"/>
/// needed nothing. Delegated descendants are counted with their ancestors.
/// </summary>
public sealed record RevocationBatch(string? BatchId, long Scheduled, long InProgress, long AlreadyRevoked)
{
    /// <summary>Leases this batch waits for: the ones it scheduled plus the ones already on their way.</summary>
    public long Pending => Scheduled + InProgress;

    public RevocationBatch Add(RevocationBatch other) =>
        this with { Scheduled = Scheduled + other.Scheduled, InProgress = InProgress + other.InProgress, AlreadyRevoked = AlreadyRevoked + other.AlreadyRevoked };
}

/// <summary>
/// How far a bulk revocation got. <see cref="Failing"/> counts leases of the batch whose revocation failed at least
/// once and is not yet done: they stay scheduled and are retried without an attempt limit.
/// </summary>
public sealed record RevocationProgress(string BatchId, long Total, long Revoked, long Failing)
{
    public bool IsDone => Revoked >= Total;
}

/// <summary>
/// The ledger's bulk revocation: an operator's intent ("everything of these agents", "these leases") becomes
/// durable schedule entries in one or a few atomic steps, and the sweepers of every replica do the revoking.
/// A caller's deadline or a replica crash can delay that work, never lose it.
/// </summary>
/// <remarks>
/// Every implementation also keeps two invariants that make orphaned delegations impossible in the ledger:
/// a lease cannot be recorded under a parent that is no longer active (<see cref="ILeaseLedger.PutAsync"/>
/// refuses with <see cref="Reasons.ParentLeaseNotActive"/>), and marking a lease revoked schedules its
/// not-yet-revoked children in the same atomic step. <see cref="ScheduleOrphansAsync"/> is the backstop.
/// </remarks>
public interface IRevocationSchedule
{
    /// <summary>Every agent id holding at least one remembered lease (for matching kill-switch patterns).</summary>
    Task<IReadOnlyList<string>> ListAgentsAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Schedules every not-yet-revoked lease of <paramref name="agentIds"/> and every lease delegated from one
    /// of them at any depth (children of already-revoked parents included) for revocation at <paramref name="now"/>,
    /// counting them under <paramref name="batchId"/> when one is given.
    /// </summary>
    Task<RevocationBatch> ScheduleAgentsAsync(IReadOnlyCollection<string> agentIds, DateTimeOffset now, string? batchId, CancellationToken cancellationToken = default);

    /// <summary>As <see cref="ScheduleAgentsAsync"/>, for the given leases and their descendants. Unknown ids are ignored.</summary>
    Task<RevocationBatch> ScheduleLeasesAsync(IReadOnlyCollection<string> leaseIds, DateTimeOffset now, string? batchId, CancellationToken cancellationToken = default);

    /// <summary>Progress of a batch, or null when the id is unknown (or its record has expired).</summary>
    Task<RevocationProgress?> GetProgressAsync(string batchId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Consistency sweep: schedules every active (or failed) delegated lease whose parent is not active — revoked,
    /// being revoked, or forgotten — whatever the cause. Returns how many it scheduled.
    /// </summary>
    Task<long> ScheduleOrphansAsync(DateTimeOffset now, CancellationToken cancellationToken = default);
}

/// <summary>Ids of bulk revocation batches: opaque, unguessable, recognisable.</summary>
public static class RevocationBatchIds
{
    private static readonly System.Buffers.SearchValues<char> LowerHex = System.Buffers.SearchValues.Create("0123456789abcdef");

    public static string New() => "rvb_" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(12));

    public static bool IsWellFormed(string? id) =>
        id is { Length: 28 } && id.StartsWith("rvb_", StringComparison.Ordinal) && !id.AsSpan(4).ContainsAnyExcept(LowerHex);
}
