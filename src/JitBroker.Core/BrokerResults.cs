namespace JitBroker.Core;

/// <summary>A credential handed out, with the lease that tracks it (which names the rules that allowed it).</summary>
public sealed record CredentialGrantResult(Lease Lease, IssuedCredential Credential)
{
    /// <summary>For a delegated credential: the subject and the actor chain it carries.</summary>
    public DelegationChain? Delegation { get; init; }
}

/// <summary>RequestCredential's answer: a credential, or a pending approval to collect later.</summary>
public sealed record RequestOutcome(CredentialGrantResult? Granted, ApprovalRecord? PendingApproval)
{
    public static RequestOutcome Issued(CredentialGrantResult granted) => new(granted, null);

    public static RequestOutcome Pending(ApprovalRecord approval) => new(null, approval);
}

/// <summary>How the agent presents an approval it was told to wait for.</summary>
public sealed record ApprovalTicket(string ApprovalId, TimeSpan Wait);

public enum LeaseOutcomeKind
{
    Revoked,
    AlreadyRevoked,
    Failed,
}

public sealed record LeaseRevocationOutcome(string LeaseId, LeaseOutcomeKind Outcome, string? Error);

public sealed record EndTaskResult(string TaskId, IReadOnlyList<LeaseRevocationOutcome> Leases);

/// <summary>Introspection answer; <see cref="Claims"/> is set only when <see cref="Active"/> (RFC 7662 §2.2).</summary>
public sealed record IntrospectionResult(bool Active, TaskCredentialClaims? Claims, string? CredentialKind)
{
    public static IntrospectionResult Inactive { get; } = new(false, null, null);
}

/// <summary>A renewed lease; <see cref="NewSecret"/> is set when the issuer minted a replacement credential.</summary>
public sealed record RenewalResult(Lease Lease, string? NewSecret);
