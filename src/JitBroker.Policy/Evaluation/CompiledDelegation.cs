using JitBroker.Core;
using JitBroker.Policy.Model;

namespace JitBroker.Policy.Evaluation;

/// <summary>A delegation entry in the form a decision needs: arrays of compiled globs, nothing parsed per call.</summary>
internal sealed class CompiledDelegation(DelegationRule rule)
{
    private readonly GlobPattern[] _to = [.. rule.To];
    private readonly GlobPattern[] _actions = [.. rule.Actions];

    /// <summary>The entry as read, for explanations (file, line, description).</summary>
    public DelegationRule Source { get; } = rule;

    public string Id => Source.Id;

    public int MaxDepth => Source.MaxDepth;

    public PrincipalSelector From => Source.From;

    public bool MatchesPlanner(WorkloadIdentity planner) => From.IsMatch(planner);

    public bool MatchesWorker(string workerId) => CompiledRule.AnyMatch(_to, workerId);

    public bool MatchesAction(string action) => CompiledRule.AnyMatch(_actions, action);
}
