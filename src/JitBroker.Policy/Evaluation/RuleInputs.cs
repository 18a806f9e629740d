using System.Collections.Frozen;
using JitBroker.Core;

namespace JitBroker.Policy.Evaluation;

/// <summary>
/// What of a declared intent a set of rules can read beyond the granted scope: the purpose (a minimum length or a
/// <c>request.purpose</c> condition) and the <c>context.*</c> keys of conditions — of deny rules too, since a
/// missing value cannot dodge a deny. Leases keep exactly this (<see cref="DecidedIntent"/>).
/// </summary>
internal static class RuleInputs
{
    public static IntentInputs Of(IEnumerable<CompiledRule> rules)
    {
        var purpose = false;
        var contextKeys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var rule in rules)
        {
            purpose |= rule.PurposeMinLength > 0;
            foreach (var clause in rule.Conditions.Clauses)
            {
                purpose |= clause.Key?.ReadsPurpose == true;
                if (clause.Key?.ContextName is { } name)
                {
                    contextKeys.Add(name);
                }
            }
        }

        return !purpose && contextKeys.Count == 0 ? IntentInputs.Nothing : new IntentInputs(purpose, contextKeys.ToFrozenSet(StringComparer.Ordinal));
    }
}
