using System.Collections.Frozen;

namespace JitBroker.Core;

/// <summary>
/// What a lease keeps of the declared intent besides its granted scope (which already holds the action, tools and
/// resources): the purpose and the context entries, each only when the policy that decided reads it. Re-evaluation
/// after a policy reload and renewal ask policy again with it, so a rule with <c>purpose_min_length</c> or a context
/// condition judges the lease by what was actually asked.
/// </summary>
/// <remarks>
/// A lease recorded before leases kept their intent reads back as <see cref="None"/>: it is judged with no purpose
/// and no context, exactly as every lease was before — such leases live minutes, so the difference ends with them.
/// </remarks>
public sealed record DecidedIntent
{
    public static readonly DecidedIntent None = new();

    /// <summary>The declared purpose, or empty when policy does not read it (or none was given).</summary>
    public string Purpose { get; init; } = "";

    /// <summary>The declared context entries whose keys policy conditions read.</summary>
    public IReadOnlyDictionary<string, string> Context { get; init; } = FrozenDictionary<string, string>.Empty;

    public bool IsEmpty => Purpose.Length == 0 && Context.Count == 0;

    /// <summary>
    /// The parts of <paramref name="intent"/> that <paramref name="policy"/> reads: all of it when the engine does not
    /// say (<see cref="IPolicyIntentInputs"/>), since a decision could then depend on any of it.
    /// </summary>
    public static DecidedIntent Keep(TaskIntent intent, IPolicyEngine policy)
    {
        ArgumentNullException.ThrowIfNull(intent);
        var reads = (policy as IPolicyIntentInputs)?.IntentInputs ?? IntentInputs.Everything;
        // Once per issued lease, and usually nothing or the purpose alone is kept: no dictionary until a key is kept,
        // no walk over the context when policy reads none of it.
        Dictionary<string, string>? context = null;
        if (reads.AllContext || reads.ContextKeys.Count > 0)
        {
            foreach (var (key, value) in intent.Context)
            {
                if (reads.ReadsContext(key))
                {
                    (context ??= new Dictionary<string, string>(StringComparer.Ordinal)).Add(key, value);
                }
            }
        }

        var purpose = reads.Purpose ? intent.Purpose : "";
        return purpose.Length == 0 && context is null
            ? None
            : new DecidedIntent { Purpose = purpose, Context = context ?? (IReadOnlyDictionary<string, string>)FrozenDictionary<string, string>.Empty };
    }

    /// <summary>The intent <paramref name="lease"/> answers, for deciding again: its scope plus what it kept.</summary>
    public static TaskIntent Of(Lease lease)
    {
        ArgumentNullException.ThrowIfNull(lease);
        var kept = lease.DecidedIntent;
        return new TaskIntent(lease.Scope.Action, kept.Purpose, lease.Scope.Tools, lease.Scope.Resources, kept.Context);
    }
}

/// <summary>Which parts of a declared intent, beyond the granted scope, a policy's decisions can read.</summary>
/// <param name="Purpose">Some rule reads the purpose (a minimum length, or a condition on it).</param>
/// <param name="ContextKeys">Context keys some condition reads.</param>
/// <param name="AllContext">Every context key may be read (an engine that cannot say which).</param>
public sealed record IntentInputs(bool Purpose, IReadOnlySet<string> ContextKeys, bool AllContext = false)
{
    /// <summary>Nothing beyond the scope: the intent a lease keeps is empty.</summary>
    public static readonly IntentInputs Nothing = new(false, FrozenSet<string>.Empty);

    /// <summary>For an engine that cannot say what it reads.</summary>
    public static readonly IntentInputs Everything = new(true, FrozenSet<string>.Empty, AllContext: true);

    public bool ReadsContext(string key) => AllContext || ContextKeys.Contains(key);
}

/// <summary>
/// Implemented by an <see cref="IPolicyEngine"/> that can say what of a declared intent it reads, so leases keep only
/// that (Redis memory per lease). An engine without it makes leases keep the whole purpose and context.
/// </summary>
public interface IPolicyIntentInputs
{
    /// <summary>What the policy in force reads. May change when the policy is reloaded.</summary>
    IntentInputs IntentInputs { get; }
}
