using JitBroker.Core;

namespace JitBroker.Policy;

/// <summary>
/// A delegation question written by hand — in a policy test case or for an explanation: may <see cref="Planner"/>
/// hand a grant for <see cref="Action"/> to <see cref="Worker"/>? The planner's identity gets the defaults an
/// attestor would supply (see <see cref="PolicyProbe"/>); facts are exactly those given.
/// </summary>
public sealed record DelegationProbe
{
    /// <summary>Planner id: a SPIFFE ID or <c>issuer#subject</c>.</summary>
    public required string Planner { get; init; }

    public string? TrustDomain { get; init; }

    public string? Method { get; init; }

    public IReadOnlyDictionary<string, string> Facts { get; init; } = new Dictionary<string, string>();

    /// <summary>The worker's id as the broker sees it: a SPIFFE ID or, for OIDC workers, <c>issuer#subject</c>.</summary>
    public required string Worker { get; init; }

    /// <summary>The action of the grant being delegated (the parent lease's action).</summary>
    public required string Action { get; init; }

    /// <summary>The planner's identity, with defaults filled in. Throws <see cref="ArgumentException"/> when they cannot be.</summary>
    public WorkloadIdentity ToPlannerIdentity() => PolicyProbe.IdentityOf(Planner, TrustDomain, Method, Facts);
}
