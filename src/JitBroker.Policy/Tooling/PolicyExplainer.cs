using JitBroker.Core;
using JitBroker.Policy.Conditions;
using JitBroker.Policy.Evaluation;
using JitBroker.Policy.Parsing;

namespace JitBroker.Policy;

/// <summary>How one rule fared against the explained request.</summary>
public enum RuleOutcome
{
    /// <summary>The rule's principals or actions do not match: it is not about this request.</summary>
    NotApplicable,

    /// <summary>An allow rule about this request that does not allow it (target, kind, purpose or conditions).</summary>
    NotSatisfied,

    /// <summary>A deny rule about this request whose conditions are provably not met.</summary>
    DenyNotTriggered,

    /// <summary>A deny rule that applies: the first one decides.</summary>
    DenyApplies,

    /// <summary>The allow rule that decides (unless a deny applies).</summary>
    Chosen,

    /// <summary>An allow rule that would also allow, but an earlier one was chosen.</summary>
    Shadowed,
}

/// <summary>One rule's trace: where it is, what happened, and why, one step per line.</summary>
public sealed record RuleTrace(string RuleId, string Effect, string Location, RuleOutcome Outcome, IReadOnlyList<string> Steps);

/// <summary>The decision path of one request: every rule in policy order, the engine's decision, and how the grant was computed.</summary>
public sealed record PolicyExplanation(
    WorkloadIdentity Agent,
    CredentialRequest Request,
    DateTimeOffset At,
    IReadOnlyList<RuleTrace> Rules,
    PolicyDecision Decision,
    IReadOnlyList<string> GrantSteps)
{
    /// <summary>A plain-text rendering for the terminal.</summary>
    public string ToText()
    {
        var intent = Request.Intent;
        var lines = new List<string>
        {
            $"agent:     {Agent.Id} (method {Agent.Method}, trust domain {Agent.TrustDomain})",
            $"facts:     {Map(Agent.Facts)}",
            $"request:   action {intent.Action}, target {Request.Target}, kind {Request.CredentialKind}",
            $"           tools [{string.Join(", ", intent.Tools)}], resources [{string.Join(", ", intent.Resources)}], " +
                $"ttl {(Request.RequestedTtl is { } ttl ? PolicyDuration.Format(ttl) : "unset")}",
            $"           purpose '{intent.Purpose}', context {Map(intent.Context)}",
            $"time:      {At:O}",
            string.Empty,
            "rules, in policy order:",
        };
        foreach (var rule in Rules)
        {
            lines.Add($"  {Mark(rule.Outcome)} {rule.RuleId} ({rule.Effect}, {rule.Location}): {rule.Outcome}");
            lines.AddRange(rule.Steps.Select(s => $"        {s}"));
        }

        lines.Add(string.Empty);
        lines.Add($"decision:  {PolicyTestRunner.Name(Decision.Effect).ToUpperInvariant()} " +
            $"[{string.Join(", ", Decision.RuleIds)}] — {Decision.Reason}");
        lines.AddRange(GrantSteps.Select(s => $"  {s}"));
        return string.Join('\n', lines) + "\n";
    }

    private static string Mark(RuleOutcome outcome) => outcome switch
    {
        RuleOutcome.DenyApplies => "✗",
        RuleOutcome.Chosen => "✓",
        RuleOutcome.Shadowed => "~",
        _ => "·",
    };

    private static string Map(IReadOnlyDictionary<string, string> map) =>
        map.Count == 0 ? "{}" : "{" + string.Join(", ", map.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}: {p.Value}")) + "}";
}

/// <summary>
/// Dry-runs one request and reports the decision path (<c>jitctl policy explain</c>). Every rule is examined, in
/// policy order, without the engine's shortcuts, so the trace shows rules the engine never needed to look at. The
/// decision shown is always the engine's own; the trace explains it.
/// </summary>
public static partial class PolicyExplainer
{
    public static PolicyExplanation Explain(YamlPolicyEngine policy, WorkloadIdentity agent, CredentialRequest request, DateTimeOffset? at = null)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(agent);
        ArgumentNullException.ThrowIfNull(request);
        var time = at is { } fixedAt ? new FixedTimeProvider(fixedAt) : policy.TimeProvider;
        var input = new DecisionInput(agent, request, time);
        var traces = new List<RuleTrace>(policy.RuleCount);
        var chosen = false;
        var denied = false;
        foreach (var rule in policy.Rules)
        {
            var trace = Trace(rule, ref input, chosen, denied);
            chosen |= trace.Outcome == RuleOutcome.Chosen;
            denied |= trace.Outcome == RuleOutcome.DenyApplies;
            traces.Add(trace);
        }

        var decision = policy.Decide(agent, request, time);
        return new PolicyExplanation(agent, request, input.Now, traces, decision, GrantSteps(policy, decision, request));
    }

    private static RuleTrace Trace(CompiledRule rule, ref DecisionInput input, bool allowChosen, bool denyApplied)
    {
        var location = rule.Source.Position.ToString();
        var effect = rule.IsDeny ? "deny" : "allow";
        var steps = new List<string>();
        RuleTrace Done(RuleOutcome outcome) => new(rule.Id, effect, location, outcome, steps);

        var action = input.Request.Intent.Action;
        if (!rule.MatchesAction(action))
        {
            steps.Add($"action '{action}' matches none of [{string.Join(", ", rule.Actions.Select(a => a.Pattern))}]");
            return Done(RuleOutcome.NotApplicable);
        }

        if (rule.Principals.FirstMismatch(input.Agent) is { } selector)
        {
            steps.Add($"principals: the agent does not match principals.{selector}");
            return Done(RuleOutcome.NotApplicable);
        }

        steps.Add("principals and action match");
        if (rule.IsDeny)
        {
            var applies = TraceConditions(rule, ref input, steps, forDeny: true);
            if (applies)
            {
                steps.Add(denyApplied ? "applies (an earlier deny already decided)" : "applies: this deny decides");
            }

            return Done(applies ? RuleOutcome.DenyApplies : RuleOutcome.DenyNotTriggered);
        }

        if (!rule.AllowsTarget(input.Request.Target))
        {
            steps.Add($"target '{input.Request.Target}' is not one of [{string.Join(", ", rule.Targets)}]");
            return Done(RuleOutcome.NotSatisfied);
        }

        if (!rule.AllowsKind(input.Request.CredentialKind))
        {
            steps.Add($"credential kind '{input.Request.CredentialKind}' is not the rule's '{rule.Kind}'");
            return Done(RuleOutcome.NotSatisfied);
        }

        steps.Add($"target and kind ({rule.Kind}) match");
        if (rule.PurposeMinLength > 0)
        {
            var satisfied = rule.SatisfiesPurpose(input.Request.Intent.Purpose);
            steps.Add($"purpose: {input.Request.Intent.Purpose.Trim().Length} non-blank characters, at least {rule.PurposeMinLength} required" +
                (satisfied ? string.Empty : ": not met"));
            if (!satisfied)
            {
                return Done(RuleOutcome.NotSatisfied);
            }
        }

        if (!TraceConditions(rule, ref input, steps, forDeny: false))
        {
            return Done(RuleOutcome.NotSatisfied);
        }

        steps.Add(allowChosen ? "would allow, but an earlier allow rule was chosen" : "allows: first allow rule that fits");
        return Done(allowChosen ? RuleOutcome.Shadowed : RuleOutcome.Chosen);
    }

    private static bool TraceConditions(CompiledRule rule, ref DecisionInput input, List<string> steps, bool forDeny)
    {
        if (rule.Conditions.IsEmpty)
        {
            return true;
        }

        foreach (var clause in rule.Conditions.Clauses)
        {
            steps.Add($"condition {clause.Describe()}: {clause.Evaluate(ref input)} ({clause.Observed(ref input)})");
        }

        var outcome = rule.Conditions.Evaluate(ref input);
        steps.Add(forDeny
            ? outcome == ConditionOutcome.NotMet ? "conditions not met: the deny does not apply"
                : outcome == ConditionOutcome.Indeterminate ? "conditions indeterminate: a deny applies when a value is missing or mistyped"
                : "conditions met"
            : outcome == ConditionOutcome.Met ? "conditions met" : $"conditions {outcome}: an allow needs every condition met");
        return forDeny ? outcome != ConditionOutcome.NotMet : outcome == ConditionOutcome.Met;
    }

    private static List<string> GrantSteps(YamlPolicyEngine policy, PolicyDecision decision, CredentialRequest request)
    {
        if (decision.Grant is not { } grant || decision.RuleIds.Count != 1 ||
            policy.Rules.FirstOrDefault(r => r.Id == decision.RuleIds[0]) is not { IsDeny: false } rule)
        {
            return [];
        }

        var intent = request.Intent;
        var steps = new List<string>
        {
            Intersection("tools", intent.Tools, rule.Tools, grant.Scope.Tools),
            Intersection("resources", intent.Resources, rule.Resources, grant.Scope.Resources),
            $"ttl:       min(requested {(request.RequestedTtl is { } r ? PolicyDuration.Format(r) : "unset")}, " +
                $"credential.max_ttl {Optional(rule.RuleMaxTtl)}, defaults.max_ttl {Optional(rule.DefaultsMaxTtl)}) = {PolicyDuration.Format(grant.Ttl)}" +
                " (the broker then clamps to its global maximum)",
        };
        if (grant.IssuerParameters.Count > 0)
        {
            steps.Add("issuer:    " + string.Join(", ", grant.IssuerParameters.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}")));
        }

        if (decision.Approval is { } approval)
        {
            steps.Add($"approval:  one of [{string.Join(", ", approval.Approvers)}] within {PolicyDuration.Format(approval.Timeout)}");
        }

        return steps;
    }

    private static string Intersection(string name, IReadOnlyList<string> requested, GlobPattern[] allowed, IReadOnlyList<string> granted)
    {
        var refused = requested.Where(r => !granted.Contains(r)).Distinct().ToList();
        return $"{name + ":",-10} requested [{string.Join(", ", requested)}] ∩ allowed [{string.Join(", ", allowed.Select(a => a.Pattern))}] " +
            $"= [{string.Join(", ", granted)}]{(refused.Count > 0 ? $"; refused [{string.Join(", ", refused)}]" : string.Empty)}";
    }

    private static string Optional(TimeSpan? duration) => duration is { } d ? PolicyDuration.Format(d) : "unset";
}
