using System.Collections.ObjectModel;
using JitBroker.Core;
using JitBroker.Policy.Model;

namespace JitBroker.Policy.Evaluation;

/// <summary>
/// A rule in the form a decision needs: arrays instead of lists, the effective TTL ceiling already
/// folded with the document default, and every string and list a decision returns built once, so that
/// evaluating a rule allocates nothing.
/// </summary>
internal sealed class CompiledRule
{
    private static readonly IReadOnlyDictionary<string, string> NoIssuerParameters = ReadOnlyDictionary<string, string>.Empty;

    private readonly SpiffeIdPattern[] _principals;
    private readonly string[] _audiences;

    public CompiledRule(PolicyRule rule, PolicyDefaults defaults)
    {
        Id = rule.Id;
        IsDeny = rule.Effect == RuleEffect.Deny;
        _principals = [.. rule.Principals.SpiffeIds];
        Actions = [.. rule.Actions];
        Tools = [.. rule.Tools];
        Resources = [.. rule.Resources];
        RuleIds = new ReadOnlyCollection<string>([rule.Id]);

        if (IsDeny)
        {
            _audiences = [];
            Kind = string.Empty;
            DenyDecision = new PolicyDecision(DecisionEffect.Deny, null, RuleIds, rule.Reason ?? $"denied by rule {rule.Id}");
            AllowReason = string.Empty;
        }
        else
        {
            var credential = rule.Credential ?? throw new InvalidOperationException($"allow rule {rule.Id} has no credential");
            _audiences = [.. credential.Audiences];
            Kind = credential.Kind;

            // The reader guarantees at least one of the two is set and that the rule's does not exceed the default.
            MaxTtl = Min(credential.MaxTtl, defaults.MaxTtl)
                ?? throw new InvalidOperationException($"allow rule {rule.Id} has no TTL ceiling");
            AllowReason = $"allowed by rule {rule.Id}";
        }
    }

    public string Id { get; }

    public bool IsDeny { get; }

    /// <summary>Action patterns (non-empty).</summary>
    public GlobPattern[] Actions { get; }

    /// <summary>Tool allowlist of an allow rule (empty: no tool may be granted).</summary>
    public GlobPattern[] Tools { get; }

    /// <summary>Resource patterns of an allow rule (empty: no resource may be granted).</summary>
    public GlobPattern[] Resources { get; }

    /// <summary>Issuer kind an allow rule mints.</summary>
    public string Kind { get; }

    /// <summary>min(rule credential.max_ttl, defaults.max_ttl) for an allow rule.</summary>
    public TimeSpan MaxTtl { get; }

    /// <summary>Read-only <c>[Id]</c>, shared by every decision this rule produces.</summary>
    public IReadOnlyList<string> RuleIds { get; }

    /// <summary>The complete decision of a deny rule (immutable, shared).</summary>
    public PolicyDecision? DenyDecision { get; }

    public string AllowReason { get; }

    public IReadOnlyDictionary<string, string> IssuerParameters => NoIssuerParameters;

    /// <summary>Trust domains the rule's principals belong to, for the engine's index.</summary>
    public IEnumerable<string> TrustDomains => _principals.Select(p => p.TrustDomain).Distinct(StringComparer.Ordinal);

    public bool MatchesPrincipal(WorkloadIdentity agent)
    {
        foreach (var principal in _principals)
        {
            if (principal.IsMatch(agent.TrustDomain, agent.Id))
            {
                return true;
            }
        }

        return false;
    }

    public bool MatchesAction(string action) => AnyMatch(Actions, action);

    /// <summary>Audiences are exact values: a rule mints only for the targets it names.</summary>
    public bool AllowsAudience(string target) => Array.IndexOf(_audiences, target) >= 0;

    public bool AllowsKind(string kind) => string.Equals(kind, Kind, StringComparison.Ordinal);

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
