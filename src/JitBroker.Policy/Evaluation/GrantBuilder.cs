using System.Collections.ObjectModel;
using System.Text;
using JitBroker.Core;

namespace JitBroker.Policy.Evaluation;

/// <summary>
/// Turns the chosen allow rule and the request into a decision: scope = requested ∩ allowed, TTL =
/// min(requested, rule ceiling), issuer parameters from the rule's credential template, and — for a rule that
/// demands step-up approval — NeedsApproval with the grant that approval would release. Never grants anything
/// that was not requested, and never grants a value that is itself a pattern.
/// </summary>
internal static class GrantBuilder
{
    /// <summary>How many refused values a reason names before it summarises ("and 3 more").</summary>
    private const int MaxNamedValues = 5;

    public static PolicyDecision Build(CompiledRule rule, CredentialRequest request)
    {
        if (request.RequestedTtl is { } requestedTtl && requestedTtl <= TimeSpan.Zero)
        {
            return PolicyDecision.Deny("the requested TTL must be positive", rule.Id) with { Owner = rule.Owner };
        }

        var tools = Intersect(request.Intent.Tools, rule.Tools, out var refusedTools);
        var resources = Intersect(request.Intent.Resources, rule.Resources, out var refusedResources);

        // Asked for some and got none: the task cannot be what was declared, so refuse rather than mint an
        // empty credential the agent would only discover to be useless at the tool.
        var noTools = request.Intent.Tools.Count > 0 && tools.Count == 0;
        var noResources = request.Intent.Resources.Count > 0 && resources.Count == 0;
        if (noTools || noResources)
        {
            var reason = new StringBuilder($"rule {rule.Id} grants none of the requested ");
            if (noTools)
            {
                reason.Append("tools (").Append(NameValues(refusedTools!)).Append(')');
            }

            if (noResources)
            {
                reason.Append(noTools ? " and none of the requested " : string.Empty)
                    .Append("resources (").Append(NameValues(refusedResources!)).Append(')');
            }

            return PolicyDecision.Deny(reason.ToString(), rule.Id) with { Owner = rule.Owner };
        }

        var ttl = request.RequestedTtl is { } wanted && wanted < rule.MaxTtl ? wanted : rule.MaxTtl;
        var scope = new GrantedScope(request.Target, request.Intent.Action, tools, resources);
        var grant = new Grant(rule.Kind, scope, ttl, rule.IssuerParameters) { Owner = rule.Owner };

        // An approval-gated rule answers with the grant it would issue, so the approver sees exactly that.
        var effect = rule.Approval is null ? DecisionEffect.Allow : DecisionEffect.NeedsApproval;
        return new PolicyDecision(effect, grant, rule.RuleIds, AllowReason(rule, refusedTools, refusedResources))
        {
            Approval = rule.Approval,
            Quota = rule.Quota,
            Owner = rule.Owner,
        };
    }

    /// <summary>
    /// A value is grantable only if it names one concrete thing. A requested <c>tickets/*</c> would match the
    /// pattern <c>tickets/*</c> character for character, and a tool that reads its grant as a pattern
    /// would then see every ticket; <c>..</c> segments would do the same to a tool that normalises paths.
    /// </summary>
    internal static bool IsConcrete(string value)
    {
        if (value.Length == 0 || value.AsSpan().IndexOfAny('*', '?') >= 0)
        {
            return false;
        }

        var span = value.AsSpan();
        foreach (var segment in span.Split('/'))
        {
            if (span[segment] is "." or "..")
            {
                return false;
            }
        }

        return true;
    }

    internal static IReadOnlyList<string> Intersect(IReadOnlyList<string> requested, GlobPattern[] allowed, out List<string>? refused)
    {
        refused = null;
        if (requested.Count == 0)
        {
            return ReadOnlyCollection<string>.Empty;
        }

        string[]? granted = null;
        var count = 0;
        for (var i = 0; i < requested.Count; i++)
        {
            var value = requested[i];
            if (IsRepeat(requested, i))
            {
                continue;
            }

            if (IsConcrete(value) && CompiledRule.AnyMatch(allowed, value))
            {
                granted ??= new string[requested.Count];
                granted[count++] = value;
            }
            else
            {
                (refused ??= []).Add(value);
            }
        }

        if (granted is null)
        {
            return ReadOnlyCollection<string>.Empty;
        }

        Array.Resize(ref granted, count);
        return new ReadOnlyCollection<string>(granted);
    }

    // Requests hold at most a few dozen values (CredentialRequestValidator), so a quadratic scan beats a set.
    private static bool IsRepeat(IReadOnlyList<string> values, int index)
    {
        for (var i = 0; i < index; i++)
        {
            if (string.Equals(values[i], values[index], StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private static string AllowReason(CompiledRule rule, List<string>? refusedTools, List<string>? refusedResources)
    {
        if (refusedTools is null && refusedResources is null)
        {
            return rule.AllowReason;
        }

        var reason = new StringBuilder(rule.AllowReason).Append("; not granted:");
        if (refusedTools is not null)
        {
            reason.Append(" tools ").Append(NameValues(refusedTools));
        }

        if (refusedResources is not null)
        {
            reason.Append(refusedTools is null ? " " : "; ").Append("resources ").Append(NameValues(refusedResources));
        }

        return reason.ToString();
    }

    private static string NameValues(List<string> values)
    {
        var named = string.Join(", ", values.Take(MaxNamedValues).Select(v => $"'{v}'"));
        return values.Count > MaxNamedValues ? $"{named} and {values.Count - MaxNamedValues} more" : named;
    }
}
