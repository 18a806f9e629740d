namespace JitBroker.Core;

/// <summary>
/// The lease ledger as the request path uses it: record a lease before its credential leaves, read it back, find a
/// task's leases and a lease's delegations, renew it. Every method that changes more than one record does so atomically.
/// Implementations throw <see cref="BrokerException"/> with <see cref="BrokerFailure.Unavailable"/> and
/// <see cref="Reasons.LeaseStoreUnavailable"/> when the store cannot be reached.
/// </summary>
public interface ILeaseLedger
{
    /// <summary>
    /// Records a new active lease, due at its expiry. Fails if the lease id already exists. A delegated lease whose
    /// parent is no longer active is refused atomically with <see cref="BrokerException"/> (FailedPrecondition,
    /// <see cref="Reasons.ParentLeaseNotActive"/>), so no child can appear under a revoked parent.
    /// </summary>
    Task PutAsync(Lease lease, CancellationToken cancellationToken = default);

    /// <summary>
    /// Records a new lease as <see cref="PutAsync"/> does, unless the agent, or the agent's task, already holds as many
    /// active leases as <paramref name="caps"/> allows: then nothing is recorded and it throws <see cref="BrokerException"/>
    /// (ResourceExhausted, <see cref="Reasons.Quota.ActiveLeasesPerAgent"/> or <see cref="Reasons.Quota.ActiveLeasesPerTask"/>).
    /// Count and insert are one atomic step, so concurrent puts never take an agent past its cap. A lease counts until
    /// it is marked revoked or its expiry (as renewed) passes <see cref="ActiveLeaseCaps.Now"/>; a lease recorded by
    /// <see cref="PutAsync"/> counts too.
    /// </summary>
    Task PutWithinCapsAsync(Lease lease, ActiveLeaseCaps caps, CancellationToken cancellationToken = default);

    Task<Lease?> GetAsync(string leaseId, CancellationToken cancellationToken = default);

    /// <summary>All leases (any state) the agent holds for the task.</summary>
    Task<IReadOnlyList<Lease>> ListByTaskAsync(string agentId, string taskId, CancellationToken cancellationToken = default);

    /// <summary>Direct children of a lease (delegation), any state.</summary>
    Task<IReadOnlyList<Lease>> ListChildrenAsync(string parentLeaseId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Moves an <see cref="LeaseState.Active"/> lease's expiry (and its due time) to <paramref name="newExpiresAt"/>
    /// and records the new credential fingerprint, atomically. Returns the updated lease, or null when the lease is
    /// missing or not active (a revoked lease can never be renewed).
    /// </summary>
    Task<Lease?> RenewAsync(string leaseId, DateTimeOffset newExpiresAt, string credentialFingerprint, CancellationToken cancellationToken = default);
}

/// <summary>
/// The revokers' side of the ledger's schedule (its due index): take leases by claim — the due ones for the sweeper,
/// one named lease for an immediate revocation — and record how each revocation ended. A claim makes its holder the
/// lease's only revoker until the claim's deadline; a revoker that dies loses its claim and the lease is claimed again.
/// Bulk scheduling (operators, the kill switch, policy reloads) is <see cref="IRevocationSchedule"/>. Failures as for
/// <see cref="ILeaseLedger"/>.
/// </summary>
public interface IRevocationQueue
{
    /// <summary>
    /// Atomically claims up to <paramref name="max"/> leases due at <paramref name="now"/> (expired active
    /// leases, failed leases whose retry time came, and revoking leases whose claim deadline lapsed), earliest due first.
    /// A store split into shards keeps that order within each shard (a delegation tree's placement): when more than
    /// <paramref name="max"/> are due it shares the claim among the shards in proportion to their due backlogs, so every
    /// backlog drains at the same pace and no lease waits longer than the whole backlog takes to drain. Each claimed lease becomes <see cref="LeaseState.Revoking"/> and is due again at now + <paramref name="claimTimeout"/>,
    /// so concurrent sweepers never claim the same lease, and a sweeper that dies loses its claim.
    /// With <paramref name="ledger"/>, a due lease of one of its issuer kinds is not claimed but revoked in the same step,
    /// as <see cref="MarkRevokedManyAsync"/> marks it at <paramref name="now"/> with the ledger's audit owner: it comes back
    /// with <see cref="LeaseState.Revoked"/>, and the caller, which changed its state, writes its audit record.
    /// </summary>
    Task<IReadOnlyList<Lease>> ClaimDueAsync(DateTimeOffset now, int max, TimeSpan claimTimeout, LedgerRevocation? ledger = null,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// The earliest due time in the schedule (it may lie before <paramref name="now"/>: something is due), or null when
    /// nothing is scheduled. The sweeper sleeps until then. Like a claim, it may forget revoked leases whose retention
    /// has passed by <paramref name="now"/>, so a sweeper that only looks still keeps the ledger bounded.
    /// </summary>
    Task<DateTimeOffset?> NextDueAsync(DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>
    /// Claims one lease for immediate revocation (EndTask, an undone commit) whatever its due time. Returns null when the
    /// lease does not exist or is already revoked.
    /// </summary>
    Task<Lease?> TryClaimAsync(string leaseId, DateTimeOffset now, TimeSpan claimTimeout, CancellationToken cancellationToken = default);

    /// <summary>
    /// Claims the leases and every lease delegated from them at any depth for immediate revocation (EndTask, a revoked
    /// credential), whatever their due times: one entry per lease, the roots first in the given order (an unknown root
    /// too), then their stored descendants breadth first, each once. <see cref="TreeClaim.Claimed"/> is null for a lease
    /// already revoked or unknown; the children of a revoked lease are still walked. A store does each delegation tree
    /// in one atomic step (a claimed lease is no longer active, so no child can be added under it afterwards); after a
    /// failure some leases may be claimed, and their claims lapse.
    /// </summary>
    Task<IReadOnlyList<TreeClaim>> ClaimWithDescendantsAsync(IReadOnlyList<string> rootLeaseIds, DateTimeOffset now, TimeSpan claimTimeout,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// <see cref="ClaimWithDescendantsAsync"/> for every lease the agent holds for the task (any state; the roots in issue
    /// order, then lease id): EndTask's listing and claim in one step per shard instead of a listing, then a claim. Empty
    /// when the agent holds no lease for the task. Like a listing, it sees only leases stored before it runs.
    /// With <paramref name="ledger"/>, a walked lease of one of its issuer kinds that is not yet revoked is not claimed but
    /// revoked in the same step, exactly as <see cref="MarkRevokedManyAsync"/> marks it at <paramref name="now"/> with the
    /// ledger's audit owner (its children scheduled, the lease in the owner's outbox): its entry's
    /// <see cref="TreeClaim.RevokedInStep"/> is true and <see cref="TreeClaim.Claimed"/> the lease as it was revoked.
    /// </summary>
    Task<IReadOnlyList<TreeClaim>> ClaimTaskAsync(string agentId, string taskId, DateTimeOffset now, TimeSpan claimTimeout,
        LedgerRevocation? ledger = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Marks each lease revoked, drops it from the schedule and schedules its not-yet-revoked children, atomically per
    /// lease. One result per id, in order: true only for the call that changed the state (the one that must write the
    /// audit record); unknown and already revoked ids are false. With an <paramref name="auditOwner"/>, a store that is
    /// also an <see cref="IRevocationOutbox"/> puts each changed lease in that owner's outbox in the same atomic step. A
    /// store may split the call into several atomic steps, and after a failure some leases may be marked.
    /// </summary>
    Task<IReadOnlyList<bool>> MarkRevokedManyAsync(IReadOnlyList<string> leaseIds, DateTimeOffset revokedAt, string? auditOwner = null,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// Records a failed attempt (attempts + 1, last error) and schedules the next one. A revoked or unknown lease is left
    /// alone: a failure reported late never puts a revoked lease back on the schedule.
    /// </summary>
    Task MarkRevokeFailedAsync(string leaseId, string error, DateTimeOffset nextAttemptAt, CancellationToken cancellationToken = default);
}

/// <summary>
/// The operators' view of the ledger (admin API, policy re-evaluation after a reload, metrics gauges): filtered pages
/// and counts. Reads only. Failures as for <see cref="ILeaseLedger"/>.
/// </summary>
public interface ILeaseQueries
{
    /// <summary>
    /// Filtered, paged listing. Results are ordered by lease id; <see cref="LeasePage.NextPageToken"/> is null on the
    /// last page. Filters combine with AND. Throws <see cref="ArgumentOutOfRangeException"/> for a page size outside 1..1000.
    /// </summary>
    Task<LeasePage> ListAsync(LeaseQuery query, CancellationToken cancellationToken = default);

    /// <summary>Number of leases per state (revoked ones only while the store still remembers them).</summary>
    Task<IReadOnlyDictionary<LeaseState, long>> CountByStateAsync(CancellationToken cancellationToken = default);
}

/// <summary>
/// A whole lease store: the parts one implementation serves over one set of records (in memory, Redis). No broker
/// component takes it — each takes the part it uses, and the container registers only the parts — it names what an
/// implementation must provide and what the conformance suites run against. The ledger's expiry index is the
/// revocation schedule: nothing per lease lives in broker memory.
/// </summary>
public interface ILeaseStore : ILeaseLedger, IRevocationQueue, ILeaseQueries
{
}

/// <summary>Most active leases the lease's agent (in total) and its task may hold, judged at <paramref name="Now"/>; null means no cap.</summary>
public sealed record ActiveLeaseCaps(int? PerAgent, int? PerTask, DateTimeOffset Now)
{
    public bool IsEmpty => PerAgent is null && PerTask is null;

    public static BrokerException AgentCapReached(int cap) => new(BrokerFailure.ResourceExhausted, Reasons.Quota.ActiveLeasesPerAgent,
        $"This agent already holds its maximum of {cap} active credentials; end a task (EndTask) or wait for one to expire.");

    public static BrokerException TaskCapReached(int cap) => new(BrokerFailure.ResourceExhausted, Reasons.Quota.ActiveLeasesPerTask,
        $"This task already holds its maximum of {cap} active credentials; end the task or wait for one to expire.");
}

/// <summary>Filters for <see cref="ILeaseQueries.ListAsync"/>; null means "any".</summary>
public sealed record LeaseQuery
{
    public string? AgentId { get; init; }
    public string? TaskId { get; init; }
    public LeaseState? State { get; init; }
    public string? IssuerKind { get; init; }
    /// <summary>Only leases expiring strictly before this instant.</summary>
    public DateTimeOffset? ExpiresBefore { get; init; }
    /// <summary>Page size, 1..1000.</summary>
    public int PageSize { get; init; } = 100;
    /// <summary>Opaque token from the previous page.</summary>
    public string? PageToken { get; init; }
}

public sealed record LeasePage(IReadOnlyList<Lease> Leases, string? NextPageToken);

/// <summary>One lease of <see cref="IRevocationQueue.ClaimWithDescendantsAsync"/>: the claimed lease, or null when it was already revoked or unknown.</summary>
public sealed record TreeClaim(string LeaseId, Lease? Claimed)
{
    /// <summary>
    /// True when the step revoked the lease itself (<see cref="LedgerRevocation"/>) instead of claiming it — a claimed lease
    /// is revoking, an already revoked one has no entry: this call changed its state to revoked, so it writes the lease's
    /// audit record, as for a true result of <see cref="IRevocationQueue.MarkRevokedManyAsync"/>.
    /// </summary>
    public bool RevokedInStep => Claimed?.State == LeaseState.Revoked;
}

/// <summary>
/// Leases whose issuer's revocation is the ledger's own mark (<see cref="ICredentialIssuer.RevokedByLedgerMark"/>: a signed
/// JWT is refused once its lease is revoked) need no claim before it: <see cref="IRevocationQueue.ClaimTaskAsync"/> revokes
/// those of <paramref name="IssuerKinds"/> in the claim's own step, putting them in <paramref name="AuditOwner"/>'s outbox
/// (none when null), which saves EndTask the separate mark's round trip; <see cref="IRevocationQueue.ClaimDueAsync"/> does
/// the same for the sweeper.
/// </summary>
public sealed record LedgerRevocation(IReadOnlySet<string> IssuerKinds, string? AuditOwner);
