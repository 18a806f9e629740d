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

    /// <summary>
    /// True when the store could not authenticate <see cref="BackendHandle"/> — or, for a bound lease, its binding
    /// (<see cref="ProofKeyThumbprint"/>, <see cref="CertificateThumbprint"/>) — because its MAC is missing or wrong (see
    /// <see cref="StateMac"/>): someone other than the broker may have written it. Issuers that act on a backend handle
    /// never revoke or renew through an untrusted one (fail closed); the lease's own TTL at the backend still bounds it.
    /// </summary>
    public bool BackendHandleUntrusted { get; init; }

    /// <summary>
    /// The DPoP key (RFC 7638 thumbprint) the lease's credential is bound to as <c>cnf.jkt</c>, or null. Kept so a renewal
    /// binds the replacement to the same key, whoever asks (<c>RenewCredentialHandler</c>). A store that cannot authenticate
    /// it reports the lease's <see cref="BackendHandleUntrusted"/>, which also covers this binding.
    /// </summary>
    public string? ProofKeyThumbprint { get; init; }

    /// <summary>The client certificate thumbprint (<c>cnf.x5t#S256</c>) the lease's credential is bound to, or null; kept like <see cref="ProofKeyThumbprint"/>.</summary>
    public string? CertificateThumbprint { get; init; }
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

    /// <summary>The person accountable for the rule that granted the lease (policy <c>owner</c>), or null when it names none.</summary>
    public string? Owner { get; init; }

    /// <summary>
    /// The attested facts policy matched on (trust domain, method, OIDC/Kubernetes claims), kept so a policy
    /// reload can re-evaluate the lease. Facts only, never evidence.
    /// </summary>
    /// <remarks>Defaults to the shared empty dictionary: every lease sets its own, so a fresh one per lease was garbage.</remarks>
    public IReadOnlyDictionary<string, string> AgentFacts { get; init; } = System.Collections.ObjectModel.ReadOnlyDictionary<string, string>.Empty;

    /// <summary>
    /// The purpose and context policy read when it granted the lease (the scope holds the rest of the intent), so
    /// re-evaluation and renewal decide on what was asked. <see cref="DecidedIntent.None"/> for leases recorded before.
    /// </summary>
    public DecidedIntent DecidedIntent { get; init; } = DecidedIntent.None;

    /// <summary>Active and not yet expired at <paramref name="now"/>: what introspection calls "active".</summary>
    public bool IsLiveAt(DateTimeOffset now) => State == LeaseState.Active && now < ExpiresAt;
}
