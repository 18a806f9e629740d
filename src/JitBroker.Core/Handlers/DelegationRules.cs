namespace JitBroker.Core.Handlers;

/// <summary>
/// What a delegation must satisfy, checked when the planner offers and again when the worker redeems (policy or the
/// parent may have changed in between): the parent's kind is one the broker signs itself, the child scope only narrows,
/// the delegation policy lets this planner delegate to this worker for this action and depth, and the worker is not
/// already in the chain.
/// </summary>
public sealed class DelegationRules
{

    private readonly IReadOnlyList<ITaskCredentialVerifier> _verifiers;
    private readonly ILeaseLedger _leases;
    private readonly IDelegationPolicy? _policy;

    /// <param name="policy">Who may delegate to whom (the policy documents' <c>delegations:</c> section); without one, delegation is not configured.</param>
    public DelegationRules(IEnumerable<ITaskCredentialVerifier> verifiers, ILeaseLedger leases, IDelegationPolicy? policy = null)
    {
        _verifiers = [.. verifiers];
        _leases = leases;
        _policy = policy;
    }

    /// <summary>The offer codec when delegation is configured on this broker; FailedPrecondition otherwise.</summary>
    public IDelegationOfferCodec RequireConfigured(IDelegationOfferCodec? offers) =>
        offers is not null && _policy is not null
            ? offers
            : throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Delegation.NotConfigured, "Delegation is not configured on this broker.");

    /// <summary>The claims of a task credential this broker signed itself, or null (the token exchange's subject token).</summary>
    public TaskCredentialClaims? Verify(string token)
    {
        foreach (var verifier in _verifiers)
        {
            if (verifier.Verify(token) is { } claims)
            {
                return claims;
            }
        }

        return null;
    }

    /// <summary>The child's scope: the parent's audience and action, and a subset of its tools and resources — never more.</summary>
    public GrantedScope NarrowedScope(Lease parent, IReadOnlyList<string> tools, IReadOnlyList<string> resources)
    {
        if (!_verifiers.Any(v => string.Equals(v.Kind, parent.IssuerKind, StringComparison.Ordinal)))
        {
            // The broker can attenuate only credentials it signs itself; a Vault token cannot be narrowed.
            throw Denied(Reasons.Delegation.KindNotDelegable, $"Credentials of kind '{parent.IssuerKind}' cannot be delegated.");
        }

        var extraTools = tools.Where(t => !parent.Scope.Tools.Contains(t, StringComparer.Ordinal)).ToList();
        var extraResources = resources.Where(r => !parent.Scope.Resources.Contains(r, StringComparer.Ordinal)).ToList();
        if (extraTools.Count > 0 || extraResources.Count > 0)
        {
            throw Denied(Reasons.Delegation.Widening,
                $"A delegation may only narrow: not held by the parent: {string.Join(", ", extraTools.Select(t => "tool " + t).Concat(extraResources.Select(r => "resource " + r)))}.");
        }

        return new GrantedScope(parent.Scope.Audience, parent.Scope.Action, [.. tools.Distinct(StringComparer.Ordinal)], [.. resources.Distinct(StringComparer.Ordinal)]);
    }

    /// <summary>Policy, depth and cycles; returns the chain the child credential will carry.</summary>
    public async Task<DelegationChain> CheckAsync(WorkloadIdentity planner, string workerId, Lease parent, CancellationToken cancellationToken = default) =>
        Check(planner, workerId, await AncestorsAsync(parent, cancellationToken).ConfigureAwait(false));

    /// <summary>
    /// Renewing the delegated lease <paramref name="child"/> of <paramref name="parent"/>: everything redemption checked,
    /// checked again (the kind is still delegable, the child still only narrows its parent, and the delegation policy
    /// still lets the parent's agent delegate to the child's at this depth). Returns the chain the replacement credential
    /// carries and the earliest expiry up the chain, past which the child must not live.
    /// </summary>
    public async Task<(DelegationChain Chain, DateTimeOffset ChainExpiresAt)> CheckRenewalAsync(WorkloadIdentity planner, Lease parent, Lease child,
        CancellationToken cancellationToken = default)
    {
        var narrowed = NarrowedScope(parent, child.Scope.Tools, child.Scope.Resources);
        if (!string.Equals(narrowed.Audience, child.Scope.Audience, StringComparison.Ordinal) || !string.Equals(narrowed.Action, child.Scope.Action, StringComparison.Ordinal))
        {
            throw Denied(Reasons.Delegation.Widening, "A delegated credential keeps its parent's audience and action.");
        }

        var ancestors = await AncestorsAsync(parent, cancellationToken).ConfigureAwait(false);
        return (Check(planner, child.AgentId, ancestors), ancestors.Min(a => a.ExpiresAt));
    }

    /// <summary>The leases up to the root, <paramref name="parent"/> first, root last.</summary>
    private async Task<List<Lease>> AncestorsAsync(Lease parent, CancellationToken cancellationToken)
    {
        var ancestors = new List<Lease> { parent };
        for (var current = parent; current.ParentLeaseId is { } up;)
        {
            current = await _leases.GetAsync(up, cancellationToken).ConfigureAwait(false)
                ?? throw LeaseUsability.NotActive("A lease up the delegation chain is gone.");
            ancestors.Add(current);
            if (ancestors.Count > LeaseUsability.MaxChainLength)
            {
                throw Denied(Reasons.Delegation.TooDeep, "The delegation chain is too long.");
            }
        }

        return ancestors;
    }

    private DelegationChain Check(WorkloadIdentity planner, string workerId, List<Lease> ancestors)
    {
        var policy = _policy ?? throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Delegation.NotConfigured, "Delegation is not configured on this broker.");
        if (ancestors.Any(a => string.Equals(a.AgentId, workerId, StringComparison.Ordinal)))
        {
            throw Denied(Reasons.Delegation.Cycle, "The worker is already in this delegation chain; delegating back would make a cycle.");
        }

        var decision = policy.Decide(planner, workerId, ancestors[0].Scope.Action);
        if (!decision.Allowed)
        {
            throw Denied(Reasons.Delegation.Denied, decision.Reason);
        }

        var depth = ancestors.Count; // the child's depth: 1 for a direct delegation from a root lease
        if (depth > decision.MaxDepth)
        {
            throw Denied(Reasons.Delegation.TooDeep, $"Delegation depth {depth} exceeds the allowed {decision.MaxDepth}.");
        }

        // Current actor first, then every earlier delegate; the root lease's agent is the subject.
        var actors = new List<string> { workerId };
        actors.AddRange(ancestors.Take(ancestors.Count - 1).Select(a => a.AgentId));
        return new DelegationChain(ancestors[^1].AgentId, actors);
    }

    internal static BrokerException Denied(string reason, string message) => new(BrokerFailure.PermissionDenied, reason, message);
}
