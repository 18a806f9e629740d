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

        await _admission.AdmitAsync(worker, RequestHash.ForTask(worker.Id, parent.TaskId), parent.TaskId, cancellationToken).ConfigureAwait(false);
        var planner = AgentFacts.Rebuild(parent);
        await _admission.EnsureNotBlockedAsync(planner, parent.TaskId, cancellationToken).ConfigureAwait(false);
        await _usability.EnsureUsableAsync(parent, now, "A lease up the delegation chain is no longer active.", cancellationToken).ConfigureAwait(false);

        // Everything is checked again at redemption: the policy or the parent may have changed since the offer.
        var scope = _rules.NarrowedScope(parent, offer.Tools, offer.Resources);
        var chain = await _rules.CheckAsync(planner, worker.Id, parent, cancellationToken).ConfigureAwait(false);
        if (await _replayCache.CheckAndRecordAsync("offer:" + offer.OfferId, worker.Id, offer.ExpiresAt + _options.ReplaySlack, cancellationToken).ConfigureAwait(false)
            != ReplayVerdict.FirstUse)
        {
            throw DelegationRules.Denied(Reasons.Delegation.OfferUsed, "The delegation offer was already used.");
        }

        var remaining = parent.ExpiresAt - now;
        var grant = new Grant(parent.IssuerKind, scope, offer.Ttl < remaining ? offer.Ttl : remaining, new Dictionary<string, string>());
        var intent = new TaskIntent(scope.Action, $"delegated by {planner.Id}", scope.Tools, scope.Resources, new Dictionary<string, string>());
        return await _commit.IssueAsync(worker, parent.TaskId, intent, grant, parent.RuleIds, parent.LeaseId, chain, cancellationToken: cancellationToken).ConfigureAwait(false);
    }
}
