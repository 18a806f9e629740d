using System.Security.Cryptography;

namespace JitBroker.Core;

/// <summary>
/// Multi-agent delegation in the spirit of RFC 8693 token exchange. The planner offers a narrower slice of
/// its own lease to a named worker; the worker redeems the offer with its own attested identity and gets a
/// child credential (subject = the root planner's grant, actors = the chain, current actor first) whose
/// lease links to the parent, so revoking the parent revokes the child.
/// </summary>
public sealed partial class CredentialBroker
{

    /// <summary>How long a worker has to redeem an offer (never beyond the parent lease).</summary>
    public static readonly TimeSpan OfferLifetime = TimeSpan.FromMinutes(5);

    private const int MaxChainWalk = 32;

    /// <summary>The planner's half: check everything that can be checked now and sign a single-use offer.</summary>
    public async Task<(string Token, DelegationOffer Offer)> OfferDelegationAsync(AttestationEvidence evidence, string parentLeaseId, string workerId,
        IReadOnlyList<string> tools, IReadOnlyList<string> resources, TimeSpan? requestedTtl, CancellationToken cancellationToken = default)
    {
        var (offers, _) = DelegationParts();
        var planner = await AttestAsync(evidence, cancellationToken).ConfigureAwait(false);
        if (string.IsNullOrWhiteSpace(workerId) || workerId.Length > 2048 || workerId.Any(char.IsControl))
        {
            throw new BrokerException(BrokerFailure.InvalidArgument, Reasons.RequestInvalid, "worker_id must name the worker's identity.");
        }

        var parent = await OwnLiveLeaseAsync(planner.Id, parentLeaseId, cancellationToken).ConfigureAwait(false);
        await EnsureNotBlockedAsync(planner, parent.TaskId, cancellationToken).ConfigureAwait(false);
        await EnsureChainUsableAsync(parent, _time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        var scope = NarrowedScope(parent, tools, resources);
        await CheckDelegationAsync(planner, workerId, parent, cancellationToken).ConfigureAwait(false);

        var now = _time.GetUtcNow();
        var remaining = parent.ExpiresAt - now;
        var ttl = requestedTtl is { } wanted && wanted < remaining ? wanted : remaining;
        if (ttl < _options.MinTtl)
        {
            throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.LeaseNotActive, "The parent lease has too little time left to delegate.");
        }

        var offer = new DelegationOffer(NewOfferId(), parent.LeaseId, planner.Id, workerId, scope.Tools, scope.Resources, ttl,
            now + (OfferLifetime < remaining ? OfferLifetime : remaining));
        await AuditAsync(new AuditEvent
        {
            Type = AuditEventTypes.CredentialDelegated, AgentId = planner.Id, TaskId = parent.TaskId, LeaseId = parent.LeaseId,
            Decision = "offered", Detail = $"offer {offer.OfferId} to {workerId}: tools [{string.Join(",", scope.Tools)}], resources [{string.Join(",", scope.Resources)}]",
        }, cancellationToken).ConfigureAwait(false);
        return (offers.Encode(offer), offer);
    }

    /// <summary>The worker's half: redeem an offer made to it, once, and receive the child credential.</summary>
    public async Task<CredentialGrantResult> DelegateCredentialAsync(AttestationEvidence evidence, string offerToken, CancellationToken cancellationToken = default)
    {
        var (offers, _) = DelegationParts();
        var worker = await AttestAsync(evidence, cancellationToken).ConfigureAwait(false);
        var offer = (offerToken.Length is > 0 and <= MaxIntrospectedTokenLength ? offers.Decode(offerToken) : null)
            ?? throw Denied(Reasons.Delegation.OfferInvalid, "The delegation offer is not valid.");
        if (!string.Equals(offer.WorkerId, worker.Id, StringComparison.Ordinal))
        {
            throw Denied(Reasons.Delegation.OfferInvalid, "The delegation offer was made to another worker.");
        }

        var now = _time.GetUtcNow();
        if (now >= offer.ExpiresAt)
        {
            throw Denied(Reasons.Delegation.OfferExpired, "The delegation offer expired; ask the planner for a new one.");
        }

        var parent = await _leases.GetAsync(offer.ParentLeaseId, cancellationToken).ConfigureAwait(false);
        if (parent is null || !parent.IsLiveAt(now) || !string.Equals(parent.AgentId, offer.PlannerId, StringComparison.Ordinal))
        {
            throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.LeaseNotActive, "The planner's lease is no longer active.");
        }

        await _replay.CheckAsync(worker, RequestHash.ForTask(worker.Id, parent.TaskId), cancellationToken).ConfigureAwait(false);
        await EnsureNotBlockedAsync(worker, parent.TaskId, cancellationToken).ConfigureAwait(false);
        var planner = AgentFacts.Rebuild(parent);
        await EnsureNotBlockedAsync(planner, parent.TaskId, cancellationToken).ConfigureAwait(false);
        await EnsureChainUsableAsync(parent, now, cancellationToken).ConfigureAwait(false);

        // Everything is checked again at redemption: the policy or the parent may have changed since the offer.
        var scope = NarrowedScope(parent, offer.Tools, offer.Resources);
        var chain = await CheckDelegationAsync(planner, worker.Id, parent, cancellationToken).ConfigureAwait(false);
        if (await _replayCache.CheckAndRecordAsync("offer:" + offer.OfferId, worker.Id, offer.ExpiresAt + _options.ReplaySlack, cancellationToken).ConfigureAwait(false)
            != ReplayVerdict.FirstUse)
        {
            throw Denied(Reasons.Delegation.OfferUsed, "The delegation offer was already used.");
        }

        var remaining = parent.ExpiresAt - now;
        var grant = new Grant(parent.IssuerKind, scope, offer.Ttl < remaining ? offer.Ttl : remaining, new Dictionary<string, string>());
        var intent = new TaskIntent(scope.Action, $"delegated by {planner.Id}", scope.Tools, scope.Resources, new Dictionary<string, string>());
        return await IssueAsync(worker, parent.TaskId, intent, grant, parent.RuleIds, parent.LeaseId, chain, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A lease up the chain revoked, or its agent blocked, leaves nothing to delegate from.</summary>
    private async Task EnsureChainUsableAsync(Lease parent, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (!await IsUsableAsync(parent, now, cancellationToken).ConfigureAwait(false))
        {
            throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.LeaseNotActive, "A lease up the delegation chain is no longer active.");
        }
    }

    private (IDelegationOfferCodec Offers, IDelegationPolicy Policy) DelegationParts() =>
        _offers is { } offers && _delegationPolicy is { } policy
            ? (offers, policy)
            : throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Delegation.NotConfigured, "Delegation is not configured on this broker.");

    private async Task<Lease> OwnLiveLeaseAsync(string agentId, string leaseId, CancellationToken cancellationToken)
    {
        if (!LeaseIds.IsWellFormed(leaseId))
        {
            throw new BrokerException(BrokerFailure.InvalidArgument, Reasons.RequestInvalid, "parent_lease_id is not a lease id.");
        }

        var lease = await _leases.GetAsync(leaseId, cancellationToken).ConfigureAwait(false);
        if (lease is null || !string.Equals(lease.AgentId, agentId, StringComparison.Ordinal))
        {
            throw new BrokerException(BrokerFailure.NotFound, Reasons.LeaseNotFound, "No such lease held by the calling agent.");
        }

        return lease.IsLiveAt(_time.GetUtcNow())
            ? lease
            : throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.LeaseNotActive, "The lease is no longer active.");
    }

    /// <summary>The child's scope: the parent's audience and action, and a subset of its tools and resources — never more.</summary>
    private GrantedScope NarrowedScope(Lease parent, IReadOnlyList<string> tools, IReadOnlyList<string> resources)
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
    private async Task<DelegationChain> CheckDelegationAsync(WorkloadIdentity planner, string workerId, Lease parent, CancellationToken cancellationToken)
    {
        // Walk up to the root: the agents already in the chain, root first.
        var ancestors = new List<Lease> { parent };
        for (var current = parent; current.ParentLeaseId is { } up;)
        {
            current = await _leases.GetAsync(up, cancellationToken).ConfigureAwait(false)
                ?? throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.LeaseNotActive, "A lease up the delegation chain is gone.");
            ancestors.Add(current);
            if (ancestors.Count > MaxChainWalk)
            {
                throw Denied(Reasons.Delegation.TooDeep, "The delegation chain is too long.");
            }
        }

        if (ancestors.Any(a => string.Equals(a.AgentId, workerId, StringComparison.Ordinal)))
        {
            throw Denied(Reasons.Delegation.Cycle, "The worker is already in this delegation chain; delegating back would make a cycle.");
        }

        var decision = DelegationParts().Policy.Decide(planner, workerId, parent.Scope.Action);
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

    private static BrokerException Denied(string reason, string message) => new(BrokerFailure.PermissionDenied, reason, message);

    private static string NewOfferId()
    {
        Span<byte> random = stackalloc byte[16];
        RandomNumberGenerator.Fill(random);
        return "dof_" + Convert.ToHexStringLower(random);
    }
}
