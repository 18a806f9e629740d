namespace JitBroker.Core;

public enum LeaseState
{
    Active,
    /// <summary>Claimed for revocation; the claim has a deadline after which another replica may take it over.</summary>
    Revoking,
    Revoked,
    /// <summary>Revocation failed at least once; retried with backoff, without an attempt limit.</summary>
    RevokeFailed,
}

/// <summary>
/// The broker's record of one credential it handed out. Never holds the credential itself — at most
/// its SHA-256 fingerprint.
/// </summary>
public sealed record Lease
{
    public required string LeaseId { get; init; }
    public required string TaskId { get; init; }
    public required string AgentId { get; init; }
    public string? ParentLeaseId { get; init; }
    public required string IssuerKind { get; init; }
    /// <summary>What the issuer needs to revoke the credential (JWT jti, Vault accessor or lease id).</summary>
    public required string BackendHandle { get; init; }
    public required GrantedScope Scope { get; init; }
    public required DateTimeOffset IssuedAt { get; init; }
    public required DateTimeOffset ExpiresAt { get; init; }
    public LeaseState State { get; init; } = LeaseState.Active;
    /// <summary>Revocation attempts made so far.</summary>
    public int Attempts { get; init; }
    public string? LastError { get; init; }
    public DateTimeOffset? RevokedAt { get; init; }
    /// <summary>When the lease is next due for the sweeper: expiry, retry time, or claim deadline.</summary>
    public DateTimeOffset? DueAt { get; init; }
    public IReadOnlyList<string> RuleIds { get; init; } = [];
    public required string CredentialFingerprint { get; init; }

    /// <summary>
    /// The attested facts policy matched on (trust domain, method, OIDC/Kubernetes claims), kept so a policy
    /// reload can re-evaluate the lease. Facts only, never evidence.
    /// </summary>
    public IReadOnlyDictionary<string, string> AgentFacts { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// The purpose and context policy read when it granted the lease (the scope holds the rest of the intent), so
    /// re-evaluation and renewal decide on what was asked. <see cref="DecidedIntent.None"/> for leases recorded before.
    /// </summary>
    public DecidedIntent DecidedIntent { get; init; } = DecidedIntent.None;

    /// <summary>Active and not yet expired at <paramref name="now"/>: what introspection calls "active".</summary>
    public bool IsLiveAt(DateTimeOffset now) => State == LeaseState.Active && now < ExpiresAt;
}

/// <summary>
/// The lease ledger. Its expiry index is the revocation schedule: nothing per lease lives in broker
/// memory. Every method that changes more than one record does so atomically.
/// Implementations throw <see cref="BrokerException"/> with <see cref="BrokerFailure.Unavailable"/> and
/// <see cref="Reasons.LeaseStoreUnavailable"/> when the store cannot be reached.
/// </summary>
public interface ILeaseStore
{
    /// <summary>
    /// Records a new active lease, due at its expiry. Fails if the lease id already exists. A delegated lease whose
    /// parent is no longer active is refused atomically with <see cref="BrokerException"/> (FailedPrecondition,
    /// <see cref="Reasons.ParentLeaseNotActive"/>), so no child can appear under a revoked parent.
    /// </summary>
    Task PutAsync(Lease lease, CancellationToken cancellationToken = default);

    Task<Lease?> GetAsync(string leaseId, CancellationToken cancellationToken = default);

    /// <summary>All leases (any state) the agent holds for the task.</summary>
    Task<IReadOnlyList<Lease>> ListByTaskAsync(string agentId, string taskId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Atomically claims up to <paramref name="max"/> leases due at <paramref name="now"/> (expired active
    /// leases, failed leases whose retry time came, and revoking leases whose claim deadline lapsed). Each
    /// claimed lease becomes <see cref="LeaseState.Revoking"/> and is due again at now + <paramref name="claimTimeout"/>,
    /// so concurrent sweepers never claim the same lease, and a sweeper that dies loses its claim.
    /// </summary>
    Task<IReadOnlyList<Lease>> ClaimDueAsync(DateTimeOffset now, int max, TimeSpan claimTimeout, CancellationToken cancellationToken = default);

    /// <summary>
    /// Claims one lease for immediate revocation (EndTask) whatever its due time. Returns null when the
    /// lease does not exist or is already revoked.
    /// </summary>
    Task<Lease?> TryClaimAsync(string leaseId, DateTimeOffset now, TimeSpan claimTimeout, CancellationToken cancellationToken = default);

    /// <summary>
    /// Marks the lease revoked, drops it from the schedule and schedules its not-yet-revoked children, atomically.
    /// Idempotent: true only for the call that changed the state (the one that must write the audit record).
    /// With an <paramref name="auditOwner"/>, a store that is also an <see cref="IRevocationOutbox"/> puts the lease in
    /// that owner's outbox in the same atomic step.
    /// </summary>
    Task<bool> MarkRevokedAsync(string leaseId, DateTimeOffset revokedAt, string? auditOwner = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// <see cref="MarkRevokedAsync"/> for many leases at once (the sweeper's batches): one result per id, in order. Atomic
    /// per lease; a store may split the call into several atomic steps, and after a failure some leases may be marked.
    /// </summary>
    Task<IReadOnlyList<bool>> MarkRevokedManyAsync(IReadOnlyList<string> leaseIds, DateTimeOffset revokedAt, string? auditOwner = null,
        CancellationToken cancellationToken = default);

    /// <summary>Records a failed attempt (attempts + 1, last error) and schedules the next one.</summary>
    Task MarkRevokeFailedAsync(string leaseId, string error, DateTimeOffset nextAttemptAt, CancellationToken cancellationToken = default);

    /// <summary>Earliest due time in the schedule, or null when nothing is scheduled.</summary>
    Task<DateTimeOffset?> NextDueAsync(CancellationToken cancellationToken = default);

    /// <summary>Leases in the given state (for operators and metrics), at most <paramref name="max"/>.</summary>
    Task<IReadOnlyList<Lease>> ListByStateAsync(LeaseState state, int max, CancellationToken cancellationToken = default);

    /// <summary>
    /// Filtered, paged listing for operators (admin API, policy re-evaluation after a reload). Results are
    /// ordered by lease id; <see cref="LeasePage.NextPageToken"/> is null on the last page. Filters combine with AND.
    /// </summary>
    Task<LeasePage> ListAsync(LeaseQuery query, CancellationToken cancellationToken = default);

    /// <summary>Direct children of a lease (delegation), any state.</summary>
    Task<IReadOnlyList<Lease>> ListChildrenAsync(string parentLeaseId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Moves an <see cref="LeaseState.Active"/> lease's expiry (and its due time) to <paramref name="newExpiresAt"/>
    /// and records the new credential fingerprint, atomically. Returns the updated lease, or null when the lease is
    /// missing or not active (a revoked lease can never be renewed).
    /// </summary>
    Task<Lease?> RenewAsync(string leaseId, DateTimeOffset newExpiresAt, string credentialFingerprint, CancellationToken cancellationToken = default);

    /// <summary>Number of leases per state (revoked ones only while the store still remembers them).</summary>
    Task<IReadOnlyDictionary<LeaseState, long>> CountByStateAsync(CancellationToken cancellationToken = default);
}

/// <summary>Filters for <see cref="ILeaseStore.ListAsync"/>; null means "any".</summary>
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
