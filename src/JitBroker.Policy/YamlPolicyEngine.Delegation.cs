using JitBroker.Core;
using JitBroker.Policy.Evaluation;

namespace JitBroker.Policy;

/// <summary>
/// The policy's <c>delegations</c> section as an <see cref="IDelegationPolicy"/> (docs/policy.md, "Delegation").
/// Default deny. An entry matches when its <c>from</c> selector matches the planner, one of its <c>to</c> patterns
/// the worker's id and one of its <c>actions</c> the action of the grant being delegated. Several entries may match:
/// the decision allows with the largest <c>max_depth</c> among them and reports every matching entry's id, in policy
/// order (all of them are reasons the delegation is allowed; the audit trail should name each). Delegation entries
/// never deny, and credential rules — deny rules included — are not consulted: the worker receives a narrowed slice
/// of a grant the policy already made to the planner.
/// </summary>
public sealed partial class YamlPolicyEngine : IDelegationPolicy
{
    /// <summary>Number of delegation entries over all files.</summary>
    public int DelegationCount => Delegations.Count;

    /// <summary>Delegation entries in policy order, for explanations and tests.</summary>
    internal IReadOnlyList<CompiledDelegation> Delegations { get; }

    /// <inheritdoc />
    public DelegationDecision Decide(WorkloadIdentity planner, string workerId, string action)
    {
        ArgumentNullException.ThrowIfNull(planner);
        ArgumentNullException.ThrowIfNull(workerId);
        ArgumentNullException.ThrowIfNull(action);
        if (workerId.Length == 0)
        {
            return DelegationDecision.Deny("no worker named: a delegation needs the worker's identity");
        }

        // The action is the parent grant's, copied into the child credential: a pattern here would widen it.
        if (!GrantBuilder.IsConcrete(action))
        {
            return DelegationDecision.Deny($"action '{action}' is not a concrete action name");
        }

        List<string>? ruleIds = null;
        var maxDepth = 0;
        var progress = DelegationProgress.None;
        foreach (var entry in Delegations)
        {
            if (!entry.MatchesPlanner(planner))
            {
                continue;
            }

            progress = Max(progress, DelegationProgress.Planner);
            if (!entry.MatchesWorker(workerId))
            {
                continue;
            }

            progress = Max(progress, DelegationProgress.Worker);
            if (!entry.MatchesAction(action))
            {
                continue;
            }

            (ruleIds ??= []).Add(entry.Id);
            maxDepth = Math.Max(maxDepth, entry.MaxDepth);
        }

        return ruleIds is null
            ? DelegationDecision.Deny(NoEntryAllows(planner.Id, workerId, action, progress))
            : new DelegationDecision(true, maxDepth, ruleIds.AsReadOnly(),
                $"delegation allowed by {(ruleIds.Count == 1 ? "rule" : "rules")} {string.Join(", ", ruleIds)} (max depth {maxDepth})");
    }

    // Says how far the delegation got — about the planner's own standing only, never what others may do.
    private static string NoEntryAllows(string planner, string worker, string action, DelegationProgress progress)
    {
        var prefix = $"no delegation rule lets '{planner}' delegate action '{action}' to '{worker}'";
        return progress switch
        {
            DelegationProgress.None => $"{prefix}: '{planner}' may not delegate",
            DelegationProgress.Planner => $"{prefix}: '{worker}' is not a worker it may delegate to",
            _ => $"{prefix}: action '{action}' may not be delegated to this worker",
        };
    }

    private static DelegationProgress Max(DelegationProgress a, DelegationProgress b) => a > b ? a : b;

    /// <summary>How far the best entry got, for the default deny's reason.</summary>
    private enum DelegationProgress
    {
        None,
        Planner,
        Worker,
    }
}
