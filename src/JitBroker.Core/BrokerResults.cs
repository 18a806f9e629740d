namespace JitBroker.Core;

/// <summary>A credential handed out, with the lease that tracks it and the decision that allowed it.</summary>
public sealed record CredentialGrantResult(Lease Lease, IssuedCredential Credential, PolicyDecision Decision);

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
