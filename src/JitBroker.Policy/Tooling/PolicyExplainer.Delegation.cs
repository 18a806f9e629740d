using JitBroker.Core;

namespace JitBroker.Policy;

/// <summary>
/// The decision path of one delegation question: every delegation entry in policy order with why it does or does
/// not match (outcome <see cref="RuleOutcome.Chosen"/> for each entry that matches: all of them count), and the
/// engine's decision.
/// </summary>
public sealed record DelegationExplanation(
    WorkloadIdentity Planner,
    string Worker,
    string Action,
    IReadOnlyList<RuleTrace> Entries,
    DelegationDecision Decision)
{
    /// <summary>A plain-text rendering for the terminal.</summary>
    public string ToText()
    {
        var lines = new List<string>
        {
            $"planner:   {Planner.Id} (method {Planner.Method}, trust domain {Planner.TrustDomain})",
            $"worker:    {Worker}",
            $"action:    {Action}",
            string.Empty,
            "delegations, in policy order:",
        };
        foreach (var entry in Entries)
        {
            lines.Add($"  {(entry.Outcome == RuleOutcome.Chosen ? "✓" : "·")} {entry.RuleId} ({entry.Location}): " +
                (entry.Outcome == RuleOutcome.Chosen ? "matches" : "does not match"));
            lines.AddRange(entry.Steps.Select(s => $"        {s}"));
        }

        lines.Add(string.Empty);
        lines.Add($"decision:  {(Decision.Allowed ? "ALLOW" : "DENY")} [{string.Join(", ", Decision.RuleIds)}]" +
            (Decision.Allowed ? $" max depth {Decision.MaxDepth}" : string.Empty) + $" — {Decision.Reason}");
        return string.Join('\n', lines) + "\n";
    }
}

public static partial class PolicyExplainer
{
    /// <summary>Dry-runs one delegation: may <paramref name="planner"/> hand a grant for <paramref name="action"/> to <paramref name="workerId"/>?</summary>
    public static DelegationExplanation ExplainDelegation(YamlPolicyEngine policy, WorkloadIdentity planner, string workerId, string action)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(planner);
        ArgumentNullException.ThrowIfNull(workerId);
        ArgumentNullException.ThrowIfNull(action);
        var traces = new List<RuleTrace>(policy.DelegationCount);
        foreach (var entry in policy.Delegations)
        {
            var steps = new List<string>();
            var source = entry.Source;
            var matches = false;
            if (entry.From.FirstMismatch(planner) is { } selector)
            {
                steps.Add($"from: the planner does not match from.{selector}");
            }
            else if (!entry.MatchesWorker(workerId))
            {
                steps.Add($"to: worker '{workerId}' matches none of [{string.Join(", ", source.To.Select(t => t.Pattern))}]");
            }
            else if (!entry.MatchesAction(action))
            {
                steps.Add($"actions: '{action}' matches none of [{string.Join(", ", source.Actions.Select(a => a.Pattern))}]");
            }
            else
            {
                steps.Add($"planner, worker and action match: allows depth up to {entry.MaxDepth}");
                matches = true;
            }

            traces.Add(new RuleTrace(entry.Id, "delegate", source.Position.ToString(), matches ? RuleOutcome.Chosen : RuleOutcome.NotApplicable, steps));
        }

        return new DelegationExplanation(planner, workerId, action, traces, policy.Decide(planner, workerId, action));
    }
}
