using JitBroker.Core;

namespace JitBroker.Policy.Model;

/// <summary>
/// One entry of a document's <c>delegations</c>: planners matching <see cref="From"/> may hand a grant carrying one
/// of <see cref="Actions"/> to a worker whose id matches one of <see cref="To"/>, for a child at most
/// <see cref="MaxDepth"/> hops below the root lease. Delegation entries only allow; what is not allowed is denied.
/// </summary>
internal sealed record DelegationRule(
    string Id,
    string? Description,
    PrincipalSelector From,
    IReadOnlyList<GlobPattern> To,
    IReadOnlyList<GlobPattern> Actions,
    int MaxDepth,
    SourcePosition Position)
{
    /// <summary>Deepest delegation chain a policy may allow; the broker walks at most this many parents.</summary>
    public const int DepthLimit = 8;

    /// <summary>Depth when <c>max_depth</c> is not written: direct delegation from a root lease only.</summary>
    public const int DefaultMaxDepth = 1;
}
