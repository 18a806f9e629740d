namespace JitBroker.Core.Handlers;

/// <summary>
/// DelegateCredential, the worker's half: redeem an offer made to it, once, with its own attested identity, and receive
/// the child credential — subject the root planner, actors the chain, current actor first — whose lease links to the
/// parent, so revoking the parent revokes the child. Everything is checked again at redemption, and the child leaves
/// through <see cref="CredentialCommit"/> like any other credential.
/// </summary>
public sealed class DelegateCredentialHandler
{

    private readonly AgentAdmission _admission;
    private readonly ILeaseLedger _leases;
    private readonly LeaseUsability _usability;
    private readonly DelegationRules _rules;
    private readonly IReplayCache _replayCache;
    private readonly CredentialCommit _commit;
    private readonly BrokerOptions _options;
    private readonly TimeProvider _time;
    private readonly IDelegationOfferCodec? _offers;

    /// <param name="offers">Verifies delegation offers; delegation is unavailable without it.</param>
    public DelegateCredentialHandler(AgentAdmission admission, ILeaseLedger leases, LeaseUsability usability, DelegationRules rules, IReplayCache replayCache,
        CredentialCommit commit, BrokerOptions options, TimeProvider time, IDelegationOfferCodec? offers = null)
    {
        _admission = admission;
        _leases = leases;
        _usability = usability;
        _rules = rules;
        _replayCache = replayCache;
        _commit = commit;
        _options = options;
        _time = time;
        _offers = offers;
    }

    public async Task<CredentialGrantResult> HandleAsync(AttestationEvidence evidence, string offerToken, CancellationToken cancellationToken = default)
    {
        var offers = _rules.RequireConfigured(_offers);
        var worker = await _admission.AttestAsync(evidence, cancellationToken).ConfigureAwait(false);
        var offer = (offerToken.Length is > 0 and <= IntrospectionHandler.MaxTokenLength ? offers.Decode(offerToken) : null)
            ?? throw DelegationRules.Denied(Reasons.Delegation.OfferInvalid, "The delegation offer is not valid.");
        if (!string.Equals(offer.WorkerId, worker.Id, StringComparison.Ordinal))
        {
            throw DelegationRules.Denied(Reasons.Delegation.OfferInvalid, "The delegation offer was made to another worker.");
        }

        var now = _time.GetUtcNow();
        if (now >= offer.ExpiresAt)
        {
            throw DelegationRules.Denied(Reasons.Delegation.OfferExpired, "The delegation offer expired; ask the planner for a new one.");
        }

        var parent = await _leases.GetAsync(offer.ParentLeaseId, cancellationToken).ConfigureAwait(false);
        if (parent is null || !parent.IsLiveAt(now) || !string.Equals(parent.AgentId, offer.PlannerId, StringComparison.Ordinal))
        {
            throw LeaseUsability.NotActive("The planner's lease is no longer active.");
        }

        return await IssueChildAsync(worker, parent, offer.Tools, offer.Resources, offer.Ttl, now,
            () => ClaimOfferAsync(offer, worker, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// RFC 8693 delegation (the OAuth door's token exchange with an actor): the worker presents the planner's task token
    /// (<paramref name="plannerToken"/>, which the planner handed it) and its own attested identity, and receives a child
    /// narrowed to <paramref name="tools"/>/<paramref name="resources"/> (the parent's when null) — under exactly the rules,
    /// chain and cascade of an offer redemption. The planner's token must be the lease's current credential.
    /// </summary>
    public async Task<CredentialGrantResult> ExchangeAsync(AttestationEvidence evidence, string plannerToken, IReadOnlyList<string>? tools,
        IReadOnlyList<string>? resources, TimeSpan? ttl, string? audience = null, string? action = null, CancellationToken cancellationToken = default)
    {
        _rules.RequireConfigured(_offers);
        var worker = await _admission.AttestAsync(evidence, cancellationToken).ConfigureAwait(false);
        var claims = plannerToken.Length is > 0 and <= IntrospectionHandler.MaxTokenLength ? _rules.Verify(plannerToken) : null;
        var now = _time.GetUtcNow();
        var parent = claims is null ? null : await _leases.GetAsync(claims.LeaseId, cancellationToken).ConfigureAwait(false);
        if (claims is null || parent is null || now >= claims.ExpiresAt || !parent.IsLiveAt(now)
            || !string.Equals(parent.CredentialFingerprint, Fingerprints.Of(plannerToken), StringComparison.Ordinal))
        {
            throw LeaseUsability.NotActive("The subject token is not an active task credential.");
        }

        if (claims.IsBound)
        {
            // A sender-constrained token proves nothing in another party's hands: the worker cannot show the planner's key
            // or certificate, so exchanging it would strip the binding. Such a planner delegates with an offer instead.
            throw DelegationRules.Denied(Reasons.Delegation.SubjectTokenBound,
                "A sender-constrained (cnf) task token cannot be exchanged by another party; the planner makes a delegation offer instead.");
        }

        if (action is not null && !string.Equals(action, parent.Scope.Action, StringComparison.Ordinal))
        {
            throw DelegationRules.Denied(Reasons.Delegation.Widening, $"A delegated credential keeps the parent's action '{parent.Scope.Action}'.");
        }

        if (audience is not null && !string.Equals(audience, parent.Scope.Audience, StringComparison.Ordinal))
        {
            // A delegated credential keeps its parent's audience: asking for another one is a widening.
            throw new BrokerException(BrokerFailure.PermissionDenied, Reasons.Delegation.Widening,
                "A delegated credential keeps the parent's audience.") { AudienceNotAllowed = true };
        }

        return await IssueChildAsync(worker, parent, tools ?? parent.Scope.Tools, resources ?? parent.Scope.Resources,
            ttl ?? parent.ExpiresAt - now, now, () => Task.CompletedTask, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The checks and the commit every delegated credential goes through, however the worker asked for it.</summary>
    private async Task<CredentialGrantResult> IssueChildAsync(WorkloadIdentity worker, Lease parent, IReadOnlyList<string> tools,
        IReadOnlyList<string> resources, TimeSpan ttl, DateTimeOffset now, Func<Task> claimOnce, CancellationToken cancellationToken)
    {
        await _admission.AdmitAsync(worker, RequestHash.ForTask(worker.Id, parent.TaskId), parent.TaskId, cancellationToken).ConfigureAwait(false);
        var planner = AgentFacts.Rebuild(parent);
        await _admission.EnsureNotBlockedAsync(planner, parent.TaskId, cancellationToken).ConfigureAwait(false);
        await _usability.EnsureUsableAsync(parent, now, "A lease up the delegation chain is no longer active.", cancellationToken).ConfigureAwait(false);

        // Everything is checked again at redemption: the policy or the parent may have changed since the offer.
        var scope = _rules.NarrowedScope(parent, tools, resources);
        var chain = await _rules.CheckAsync(planner, worker.Id, parent, cancellationToken).ConfigureAwait(false);
        await claimOnce().ConfigureAwait(false);

        var remaining = parent.ExpiresAt - now;
        var grant = new Grant(parent.IssuerKind, scope, ttl < remaining ? ttl : remaining, new Dictionary<string, string>());
        var intent = new TaskIntent(scope.Action, $"delegated by {planner.Id}", scope.Tools, scope.Resources, new Dictionary<string, string>());
        return await _commit.IssueAsync(worker, parent.TaskId, intent, grant, parent.RuleIds, parent.LeaseId, chain, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    private async Task ClaimOfferAsync(DelegationOffer offer, WorkloadIdentity worker, CancellationToken cancellationToken)
    {
        if (await _replayCache.CheckAndRecordAsync("offer:" + offer.OfferId, worker.Id, offer.ExpiresAt + _options.ReplaySlack, cancellationToken).ConfigureAwait(false)
            != ReplayVerdict.FirstUse)
        {
            throw DelegationRules.Denied(Reasons.Delegation.OfferUsed, "The delegation offer was already used.");
        }
    }
}
