namespace JitBroker.Core;

/// <summary>
/// RFC 8693 style delegation facts for a child credential: the subject whose grant is being delegated (the
/// root planner) and the actors, current actor first (the JWT nests them as <c>act</c>, outermost = current).
/// </summary>
public sealed record DelegationChain(string Subject, IReadOnlyList<string> Actors);

/// <summary>What a planner offers a worker: a narrower slice of its own lease, for a named worker, once.</summary>
public sealed record DelegationOffer(
    string OfferId,
    string ParentLeaseId,
    string PlannerId,
    string WorkerId,
    IReadOnlyList<string> Tools,
    IReadOnlyList<string> Resources,
    TimeSpan Ttl,
    DateTimeOffset ExpiresAt);

/// <summary>
/// Signs and verifies delegation offers, so an offer can travel planner → worker → any broker replica
/// without shared state; single use is enforced by the replay cache on <see cref="DelegationOffer.OfferId"/>.
/// </summary>
public interface IDelegationOfferCodec
{
    string Encode(DelegationOffer offer);

    /// <summary>The verified offer, or null for anything not a valid offer signed by this broker (expiry is the caller's concern).</summary>
    DelegationOffer? Decode(string token);
}

public sealed record DelegationDecision(bool Allowed, int MaxDepth, IReadOnlyList<string> RuleIds, string Reason)
{
    public static DelegationDecision Deny(string reason) => new(false, 0, [], reason);
}

/// <summary>Who may delegate to whom, for which actions, how deep. Default: nobody.</summary>
public interface IDelegationPolicy
{
    DelegationDecision Decide(WorkloadIdentity planner, string workerId, string action);
}
