using JitBroker.Policy.Conditions;
using JitBroker.Core;

namespace JitBroker.Policy.Model;

// The document model mirrors the YAML one to one, already validated and with globs compiled. It is kept
// separate from the evaluation form (Evaluation/CompiledRule) so that the reader can grow keys without
// touching how a decision is computed.

/// <summary>One validated policy document (one file): credential rules and delegation entries.</summary>
internal sealed record PolicyDocument(
    string SourceName, int Version, PolicyDefaults Defaults, IReadOnlyList<PolicyRule> Rules, IReadOnlyList<DelegationRule> Delegations)
{
    /// <summary>The only document version this build reads.</summary>
    public const int SupportedVersion = 1;
}

/// <summary>Document-wide limits that every rule of the same file inherits.</summary>
internal sealed record PolicyDefaults(TimeSpan? MaxTtl);

internal enum RuleEffect
{
    Allow,
    Deny,
}

/// <summary>
/// One rule. Deny rules carry no <see cref="Credential"/>, <see cref="Tools"/>, <see cref="Resources"/>,
/// <see cref="Purpose"/> or <see cref="Approval"/> (they match on principals, actions and conditions only);
/// allow rules carry no <see cref="Reason"/>.
/// </summary>
internal sealed record PolicyRule(
    string Id,
    string? Description,
    RuleEffect Effect,
    PrincipalSelector Principals,
    IReadOnlyList<GlobPattern> Actions,
    IReadOnlyList<GlobPattern> Tools,
    IReadOnlyList<GlobPattern> Resources,
    PurposeRequirement? Purpose,
    ConditionSet Conditions,
    CredentialTemplate? Credential,
    ApprovalTemplate? Approval,
    string? Reason,
    SourcePosition Position)
{
    /// <summary>The rule's <c>quota</c> block (allow rules only): limits that tighten the broker's for requests it decides.</summary>
    public QuotaLimits? Quota { get; init; }

    /// <summary>The person accountable for what the rule decides (<c>owner</c>); required on allow rules in the production profile.</summary>
    public string? Owner { get; init; }
}

/// <summary>The rule demands a stated purpose of at least <see cref="MinLength"/> non-blank characters.</summary>
internal sealed record PurposeRequirement(int MinLength);

/// <summary>Step-up approval an allow rule demands: approver globs (validated) and how long a request may wait.</summary>
internal sealed record ApprovalTemplate(IReadOnlyList<GlobPattern> Approvers, TimeSpan Timeout);

/// <summary>1-based line and column of a node in its source file, kept for errors and explanations.</summary>
internal readonly record struct SourcePosition(string Source, int Line, int Column)
{
    public override string ToString() => $"{Source}:{Line}:{Column}";
}
