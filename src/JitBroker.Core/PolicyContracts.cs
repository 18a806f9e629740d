namespace JitBroker.Core;

public enum DecisionEffect
{
    Deny,
    Allow,
    NeedsApproval,
}

/// <summary>
/// What policy allows for one request: the scope (requested ∩ allowed, never more), the TTL
/// (min of requested and rule maximum) and the issuer kind with its template parameters.
/// </summary>
public sealed record Grant(
    string CredentialKind,
    GrantedScope Scope,
    TimeSpan Ttl,
    IReadOnlyDictionary<string, string> IssuerParameters)
{
    /// <summary>The person accountable for the granting rule (policy <c>owner</c>); kept on the lease and its audit records.</summary>
    public string? Owner { get; init; }
}

/// <summary>A decision that explains itself: the rules that produced it and a human-readable reason.</summary>
public sealed record PolicyDecision(
    DecisionEffect Effect,
    Grant? Grant,
    IReadOnlyList<string> RuleIds,
    string Reason)
{
    /// <summary>Set when <see cref="Effect"/> is <see cref="DecisionEffect.NeedsApproval"/> (the grant is then what would be issued once approved).</summary>
    public ApprovalRequirement? Approval { get; init; }

    /// <summary>The deciding rule's own quotas (its <c>quota</c> block); they tighten the broker's, never loosen them. Null: none.</summary>
    public QuotaLimits? Quota { get; init; }

    /// <summary>A denial because no rule grants the requested audience (target) for an action the agent may otherwise do (OAuth: <c>invalid_target</c>).</summary>
    public bool AudienceNotAllowed { get; init; }

    /// <summary>The person accountable for the deciding rule (policy <c>owner</c>), or null when it names none or no rule decided.</summary>
    public string? Owner { get; init; }

    public static PolicyDecision Deny(string reason, params string[] ruleIds) => new(DecisionEffect.Deny, null, ruleIds, reason);
}

/// <summary>Decides requests against policy kept as code. Must be safe to call concurrently and must not block.</summary>
public interface IPolicyEngine
{
    PolicyDecision Decide(WorkloadIdentity agent, CredentialRequest request);
}

/// <summary>Step-up approval a rule demands: who may approve (admin principal globs) and how long a request waits.</summary>
public sealed record ApprovalRequirement(IReadOnlyList<string> Approvers, TimeSpan Timeout);
