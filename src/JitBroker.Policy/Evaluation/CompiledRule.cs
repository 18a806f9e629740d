using System.Collections.Frozen;
using System.Collections.ObjectModel;
using JitBroker.Core;
using JitBroker.Policy.Conditions;
using JitBroker.Policy.Model;
using JitBroker.Policy.Parsing;

namespace JitBroker.Policy.Evaluation;

/// <summary>
/// A rule in the form a decision needs: arrays instead of lists, the effective TTL ceiling already
/// folded with the document default, and every string, list and record a decision returns built once, so
/// that evaluating a rule allocates nothing.
/// </summary>
internal sealed class CompiledRule
{
    private static readonly IReadOnlyDictionary<string, string> NoIssuerParameters = FrozenDictionary<string, string>.Empty;

    private readonly string[] _targets;

    public CompiledRule(PolicyRule rule, PolicyDefaults defaults)
    {
        Source = rule;
        Id = rule.Id;
        IsDeny = rule.Effect == RuleEffect.Deny;
        Principals = rule.Principals;
        Actions = [.. rule.Actions];
        Tools = [.. rule.Tools];
        Resources = [.. rule.Resources];
        Conditions = rule.Conditions;
        PurposeMinLength = rule.Purpose?.MinLength ?? 0;
        RuleIds = new ReadOnlyCollection<string>([rule.Id]);
        Quota = rule.Quota;
        Owner = rule.Owner;
        DefaultsMaxTtl = defaults.MaxTtl;

        if (IsDeny)
        {
            _targets = [];
            Kind = string.Empty;
            IssuerParameters = NoIssuerParameters;
            DenyDecision = new PolicyDecision(DecisionEffect.Deny, null, RuleIds, rule.Reason ?? $"denied by rule {rule.Id}") { Owner = rule.Owner };
            AllowReason = string.Empty;
            return;
        }

        var credential = rule.Credential ?? throw new InvalidOperationException($"allow rule {rule.Id} has no credential");
        _targets = [.. credential.Targets];
        Kind = credential.Kind;
        IssuerParameters = credential.IssuerParameters.Count == 0 ? NoIssuerParameters : credential.IssuerParameters;
        RuleMaxTtl = credential.MaxTtl;

        // The reader guarantees at least one of the two is set and that the rule's does not exceed the default.
        MaxTtl = Min(credential.MaxTtl, defaults.MaxTtl) ?? throw new InvalidOperationException($"allow rule {rule.Id} has no TTL ceiling");
        if (rule.Approval is { } approval)
        {
            var approvers = new ReadOnlyCollection<string>([.. approval.Approvers.Select(a => a.Pattern)]);
            Approval = new ApprovalRequirement(approvers, approval.Timeout);
            AllowReason = $"rule {rule.Id} allows this once approved by one of: {string.Join(", ", approvers)} " +
                $"(within {PolicyDuration.Format(approval.Timeout)})";
        }
        else
        {
            AllowReason = $"allowed by rule {rule.Id}";
        }
    }

    /// <summary>The rule as read, for explanations (file, line, description).</summary>
    public PolicyRule Source { get; }

    public string Id { get; }

    public bool IsDeny { get; }

    public PrincipalSelector Principals { get; }

    /// <summary>Action patterns (non-empty).</summary>
    public GlobPattern[] Actions { get; }

    /// <summary>Tool allowlist of an allow rule (empty: no tool may be granted).</summary>
    public GlobPattern[] Tools { get; }

    /// <summary>Resource patterns of an allow rule (empty: no resource may be granted).</summary>
    public GlobPattern[] Resources { get; }

    public ConditionSet Conditions { get; }

    /// <summary>Minimum non-blank purpose length an allow rule demands; 0 when it demands none.</summary>
    public int PurposeMinLength { get; }

    /// <summary>Issuer kind an allow rule mints.</summary>
    public string Kind { get; }

    /// <summary>Exact targets (JWT audiences, Vault target names) an allow rule mints for.</summary>
    public IReadOnlyList<string> Targets => _targets;

    /// <summary>min(rule credential.max_ttl, defaults.max_ttl) for an allow rule.</summary>
    public TimeSpan MaxTtl { get; }

    /// <summary>The rule's own credential.max_ttl, when written (for explanations).</summary>
    public TimeSpan? RuleMaxTtl { get; }

    /// <summary>The file's defaults.max_ttl, when written (for explanations).</summary>
    public TimeSpan? DefaultsMaxTtl { get; }

    /// <summary>Read-only <c>[Id]</c>, shared by every decision this rule produces.</summary>
    public IReadOnlyList<string> RuleIds { get; }

    /// <summary>The complete decision of a deny rule (immutable, shared).</summary>
    public PolicyDecision? DenyDecision { get; }

    /// <summary>Set on an allow rule that demands step-up approval (immutable, shared).</summary>
    public ApprovalRequirement? Approval { get; }

    /// <summary>The rule's quota block, carried on its decisions; null when it has none.</summary>
    public QuotaLimits? Quota { get; }

    /// <summary>The rule's accountable owner, or null.</summary>
    public string? Owner { get; }

    public string AllowReason { get; }

    public IReadOnlyDictionary<string, string> IssuerParameters { get; }

    /// <summary>Trust domains an identity must belong to for the rule to apply (the index's key); null when any may.</summary>
    public IReadOnlyList<string>? TrustDomains => Principals.IndexDomains;

    public bool MatchesPrincipal(WorkloadIdentity agent) => Principals.IsMatch(agent);

    public bool MatchesAction(string action) => AnyMatch(Actions, action);

    /// <summary>Targets are exact values: a rule mints only for the targets it names.</summary>
    public bool AllowsTarget(string target) => Array.IndexOf(_targets, target) >= 0;

    public bool AllowsKind(string kind) => string.Equals(kind, Kind, StringComparison.Ordinal);

    /// <summary>A purpose counts without its surrounding white space: "   " is no purpose.</summary>
    public bool SatisfiesPurpose(string purpose) => PurposeMinLength == 0 || purpose.AsSpan().Trim().Length >= PurposeMinLength;

    /// <summary>An allow rule needs every condition met; unknown values do not count as met.</summary>
    public bool AllowConditionsMet(ref DecisionInput input) => Conditions.IsEmpty || Conditions.Evaluate(ref input) == ConditionOutcome.Met;

    /// <summary>A deny rule applies unless some condition is provably not met: a missing or mistyped value cannot dodge a deny.</summary>
    public bool DenyConditionsApply(ref DecisionInput input) => Conditions.IsEmpty || Conditions.Evaluate(ref input) != ConditionOutcome.NotMet;

    public static bool AnyMatch(GlobPattern[] globs, string value)
    {
        foreach (var glob in globs)
        {
            if (glob.IsMatch(value))
            {
                return true;
            }
        }

        return false;
    }

    private static TimeSpan? Min(TimeSpan? a, TimeSpan? b) => (a, b) switch
    {
        ({ } x, { } y) => x < y ? x : y,
        _ => a ?? b,
    };
}
