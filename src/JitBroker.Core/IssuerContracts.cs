namespace JitBroker.Core;

/// <summary>
/// What an issuer is asked to mint. <see cref="Grant"/>.Ttl is the preferred TTL; the issuer may grant less.
/// <see cref="Delegation"/> is set for a delegated (child) credential: <see cref="Agent"/> is then the worker
/// (the current actor) and the chain names the subject and every actor.
/// </summary>
public sealed record IssueRequest(string LeaseId, WorkloadIdentity Agent, string TaskId, Grant Grant, DelegationChain? Delegation = null);

/// <summary>
/// A freshly minted credential. <see cref="Secret"/> goes to the agent and nowhere else: it is never
/// stored, logged or audited (use <see cref="Fingerprint"/>). <see cref="ToString"/> redacts it.
/// </summary>
public sealed class IssuedCredential
{
    public IssuedCredential(string kind, string secret, string backendHandle, DateTimeOffset issuedAt, DateTimeOffset expiresAt)
    {
        ArgumentException.ThrowIfNullOrEmpty(secret);
        if (expiresAt <= issuedAt)
        {
            throw new ArgumentException("A credential must expire after it is issued.", nameof(expiresAt));
        }

        Kind = kind;
        Secret = secret;
        BackendHandle = backendHandle;
        IssuedAt = issuedAt;
        ExpiresAt = expiresAt;
        Fingerprint = Fingerprints.Of(secret);
    }

    public string Kind { get; }

    public string Secret { get; }

    /// <summary>What the backend needs to revoke it: JWT <c>jti</c>, Vault accessor or lease id.</summary>
    public string BackendHandle { get; }

    public DateTimeOffset IssuedAt { get; }

    /// <summary>The expiry actually granted (may be earlier than requested).</summary>
    public DateTimeOffset ExpiresAt { get; }

    public string Fingerprint { get; }

    public override string ToString() => $"IssuedCredential(kind={Kind}, fingerprint={Fingerprint}, expires={ExpiresAt:O})";
}

public enum RevocationStatus
{
    /// <summary>The backend revoked it now.</summary>
    Revoked,
    /// <summary>The backend no longer knows it: counts as done (revocation is idempotent).</summary>
    AlreadyGone,
    /// <summary>The backend could not revoke it now; the caller retries later.</summary>
    Failed,
}

public sealed record RevocationResult(RevocationStatus Status, string? Error = null)
{
    public static RevocationResult Revoked { get; } = new(RevocationStatus.Revoked);
    public static RevocationResult AlreadyGone { get; } = new(RevocationStatus.AlreadyGone);

    public bool IsDone => Status is RevocationStatus.Revoked or RevocationStatus.AlreadyGone;

    public static RevocationResult Failed(string error) => new(RevocationStatus.Failed, error);
}

/// <summary>
/// Mints credentials of one kind and revokes them at their source. Registered by <see cref="Kind"/>.
/// </summary>
public interface ICredentialIssuer
{
    /// <summary>Issuer kind, unique among registered issuers, for example <c>jwt</c>.</summary>
    string Kind { get; }

    /// <summary>
    /// Mints a credential. Throws <see cref="BrokerException"/> (for example
    /// <see cref="BrokerFailure.Unavailable"/> when the backend is down); never returns a credential it
    /// could not also revoke.
    /// </summary>
    ValueTask<IssuedCredential> IssueAsync(IssueRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Revokes the credential behind a lease. Must be idempotent: a credential the backend no longer knows
    /// is <see cref="RevocationStatus.AlreadyGone"/>. Returns <see cref="RevocationStatus.Failed"/> rather than
    /// throwing for backend failures.
    /// </summary>
    ValueTask<RevocationResult> RevokeAsync(Lease lease, CancellationToken cancellationToken = default);

    /// <summary>
    /// True when revoking at the source is the ledger's own mark — <see cref="RevokeAsync"/> does nothing but answer
    /// revoked, because whoever checks the credential asks the ledger (a signed JWT: introspection, use reports). The
    /// broker may then revoke such a lease in the ledger without claiming it first (<see cref="LedgerRevocation"/>).
    /// False (the default) for a backend that must be told.
    /// </summary>
    bool RevokedByLedgerMark => false;

    /// <summary>
    /// Extends the credential behind an active lease to at most <paramref name="newExpiresAt"/> (the caller has
    /// already capped it at the lease's original maximum). The issuer may grant less and reports what it granted.
    /// A JWT issuer mints a fresh token for the same lease (jti); a Vault issuer renews at its source and
    /// returns no new secret. Throws <see cref="BrokerException"/> (Unavailable, FailedPrecondition) on failure.
    /// For a delegated lease <paramref name="delegation"/> is the chain it was issued with (re-checked by the caller):
    /// a replacement credential carries the same subject and actors as the one it replaces. Only kinds the broker
    /// verifies itself are ever delegated, so issuers whose credentials cannot carry a chain never receive one.
    /// </summary>
    ValueTask<RenewedCredential> RenewAsync(Lease lease, WorkloadIdentity agent, DateTimeOffset newExpiresAt, DelegationChain? delegation = null,
        CancellationToken cancellationToken = default);
}

/// <summary>What a renewal produced: the new expiry and, when the issuer minted one, a new secret.</summary>
public sealed class RenewedCredential
{
    public RenewedCredential(DateTimeOffset expiresAt, string? newSecret)
    {
        ExpiresAt = expiresAt;
        NewSecret = newSecret;
        Fingerprint = newSecret is null ? null : Fingerprints.Of(newSecret);
    }

    public DateTimeOffset ExpiresAt { get; }

    /// <summary>A replacement credential (JWT issuers), or null when the existing one stays valid (Vault).</summary>
    public string? NewSecret { get; }

    public string? Fingerprint { get; }

    public override string ToString() => $"RenewedCredential(expires={ExpiresAt:O}, new={(NewSecret is null ? "no" : Fingerprint)})";
}

/// <summary>
/// Names of <see cref="Grant.IssuerParameters"/> entries that credential templates set for issuers.
/// Policy writes them; issuers read them. Unknown names are a policy load error, never silently ignored.
/// </summary>
public static class IssuerParameterNames
{
    /// <summary>vault-token: token role for <c>auth/token/create/:role</c> (optional).</summary>
    public const string VaultRole = "role";
    /// <summary>vault-token: comma-separated Vault policies.</summary>
    public const string VaultPolicies = "policies";
    /// <summary>vault-token: "true" to make the token renewable (default false).</summary>
    public const string VaultRenewable = "renewable";
    /// <summary>vault-token: maximum number of uses (optional, integer ≥ 1).</summary>
    public const string VaultNumUses = "num_uses";
    /// <summary>vault-secret: the dynamic-secret path to read, e.g. <c>database/creds/readonly</c>.</summary>
    public const string VaultSecretPath = "path";
    /// <summary>jwt: space-separated extra OAuth scopes to put in the token's <c>scope</c> claim (optional).</summary>
    public const string JwtScopes = "scopes";
}

/// <summary>Claims of a task credential whose signature and issuer the broker verified.</summary>
public sealed record TaskCredentialClaims(
    string LeaseId,
    string Issuer,
    string Subject,
    string TaskId,
    GrantedScope Scope,
    DateTimeOffset IssuedAt,
    DateTimeOffset ExpiresAt)
{
    /// <summary><c>cnf.jkt</c>: the RFC 7638 thumbprint of the DPoP key the credential is bound to (RFC 9449 §6.1), or null.</summary>
    public string? ProofKeyThumbprint { get; init; }

    /// <summary><c>cnf.x5t#S256</c>: the thumbprint of the client certificate the credential is bound to (RFC 8705 §3.1), or null.</summary>
    public string? CertificateThumbprint { get; init; }

    /// <summary><c>client_id</c>: the agent holding the credential (for a delegated one the worker, while <see cref="Subject"/> is the root planner).</summary>
    public string? ClientId { get; init; }

    /// <summary>The RFC 8693 <c>act</c> chain of a delegated credential, current actor first; empty for a direct one.</summary>
    public IReadOnlyList<string> Actors { get; init; } = [];

    /// <summary>True when the credential is sender-constrained (it has a <c>cnf</c>): a bearer alone cannot use it.</summary>
    public bool IsBound => ProofKeyThumbprint is not null || CertificateThumbprint is not null;
}

/// <summary>Verifies task credentials the broker itself minted (for introspection).</summary>
public interface ITaskCredentialVerifier
{
    /// <summary>The issuer kind whose credentials this verifies.</summary>
    string Kind { get; }

    /// <summary>
    /// Returns the verified claims, or null if the token is not a valid credential of this issuer
    /// (bad signature, unknown key, malformed). Expiry is the caller's concern.
    /// </summary>
    TaskCredentialClaims? Verify(string token);
}
