using JitBroker.Core;

namespace JitBroker.Policy.Conditions;

/// <summary>
/// Everything one decision reads: the attested identity, the request, and the clock. Passed by reference
/// so that the current time is read at most once per decision, and only when a time condition asks.
/// </summary>
internal struct DecisionInput(WorkloadIdentity agent, CredentialRequest request, TimeProvider time)
{
    private DateTimeOffset? _now;

    public readonly WorkloadIdentity Agent => agent;

    public readonly CredentialRequest Request => request;

    /// <summary>The decision's instant: every time condition of one decision sees the same value.</summary>
    public DateTimeOffset Now => _now ??= time.GetUtcNow();
}

/// <summary>Three-valued result of a condition (Kleene logic): a value that is missing or of the wrong type is neither true nor false.</summary>
internal enum ConditionOutcome
{
    Met,
    NotMet,

    /// <summary>
    /// The key is missing or its value does not have the operator's type. An allow rule needs every condition
    /// <see cref="Met"/>; a deny rule applies unless some condition is <see cref="NotMet"/>. Either way the
    /// request that cannot be judged is refused — fail closed.
    /// </summary>
    Indeterminate,
}
