namespace JitBroker.Core.Handlers;

/// <summary>
/// RenewCredential: extends a usable lease within its original maximum, asking policy again. A delegated lease is
/// judged by the delegation that made it, not by its holder's own rules: the delegation checks run again, it never
/// outlives any lease up its chain, and its replacement credential keeps the chain's subject and actors. What the
/// issuer produces (a new expiry; for a JWT a replacement token) leaves only through <see cref="CredentialCommit"/>,
/// like any other credential: if it cannot be recorded and audited, the lease is revoked and the caller refused.
/// </summary>
public sealed class RenewCredentialHandler
{

    private readonly AgentAdmission _admission;
    private readonly ILeaseLedger _leases;
    private readonly LeaseUsability _usability;
    private readonly IPolicyEngine _policy;
    private readonly DelegationRules _delegation;
    private readonly IssuerRegistry _issuers;
    private readonly CredentialCommit _commit;
    private readonly BrokerOptions _options;
    private readonly TimeProvider _time;

    public RenewCredentialHandler(AgentAdmission admission, ILeaseLedger leases, LeaseUsability usability, IPolicyEngine policy, DelegationRules delegation,
        IssuerRegistry issuers, CredentialCommit commit, BrokerOptions options, TimeProvider time)
    {
        _admission = admission;
        _leases = leases;
        _usability = usability;
        _policy = policy;
        _delegation = delegation;
        _issuers = issuers;
        _commit = commit;
        _options = options;
        _time = time;
    }

    public async Task<RenewalResult> HandleAsync(AttestationEvidence evidence, string leaseId, TimeSpan? requestedTtl, CancellationToken cancellationToken = default)
    {
        var agent = await _admission.AttestAsync(evidence, cancellationToken).ConfigureAwait(false);
        if (!LeaseIds.IsWellFormed(leaseId))
        {
            throw new BrokerException(BrokerFailure.InvalidArgument, Reasons.RequestInvalid, "lease_id is not a lease id.");
        }

        var lease = await _leases.GetAsync(leaseId, cancellationToken).ConfigureAwait(false);
        // Someone else's lease is indistinguishable from an unknown one.
        if (lease is null || !string.Equals(lease.AgentId, agent.Id, StringComparison.Ordinal))
        {
            throw new BrokerException(BrokerFailure.NotFound, Reasons.LeaseNotFound, "No such lease held by the calling agent.");
        }

        var now = _time.GetUtcNow();
        if (!await _usability.IsUsableAsync(lease, now, cancellationToken).ConfigureAwait(false))
        {
            // Blocked agents get the blocked answer (and its audit record); a revoked ancestor makes it not active.
            await _admission.EnsureNotBlockedAsync(agent, lease.TaskId, cancellationToken).ConfigureAwait(false);
            throw LeaseUsability.NotActive("The lease is no longer active; request a new credential.");
        }

        await _admission.EnsureNotBlockedAsync(agent, lease.TaskId, cancellationToken).ConfigureAwait(false);

        var terms = lease.ParentLeaseId is { } parentId
            ? await DelegatedTermsAsync(lease, parentId, now, cancellationToken).ConfigureAwait(false)
            : RootTerms(agent, lease);
        var wanted = requestedTtl is { } ttl ? now + ttl : terms.Cap;
        var newExpiry = wanted < terms.Cap ? wanted : terms.Cap;
        // Issuers grant whole seconds from a whole-second iat, so a lease renewed "to the cap" ends exactly one
        // second short of it; a second or less more is no renewal at all.
        if (newExpiry - lease.ExpiresAt <= TimeSpan.FromSeconds(1))
        {
            throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.RenewalMaxTtlReached,
                $"The lease already runs to its maximum ({terms.Cap:O}); request a new credential.");
        }

        var renewed = await _issuers.Get(lease.IssuerKind).RenewAsync(lease, BoundAsLease(agent, lease), newExpiry, terms.Delegation, cancellationToken)
            .ConfigureAwait(false);
        var updated = await _commit.CommitRenewalAsync(agent, lease, renewed, terms.RuleIds).ConfigureAwait(false);
        return new RenewalResult(updated, renewed.NewSecret);
    }

    /// <summary>
    /// The renewing caller, carrying the lease's bindings rather than its own: a replacement credential is bound exactly
    /// as the one it replaces, never silently unbound. A caller that cannot present the lease's DPoP key (or presents
    /// another) still gets a token bound to the lease's key: that token is useless without the key, so this gives a thief
    /// of the old token nothing, and the binding cannot be dropped or swapped by renewing. The certificate binding falls
    /// back to the caller's only for a lease recorded before leases kept it (what renewal did then), so no lease loses it.
    /// </summary>
    internal static WorkloadIdentity BoundAsLease(WorkloadIdentity caller, Lease lease) =>
        caller with
        {
            ProofKeyThumbprint = lease.ProofKeyThumbprint,
            CertificateThumbprint = lease.CertificateThumbprint ?? caller.CertificateThumbprint,
        };

    /// <summary>A root lease: policy is asked again, today, with the current identity, so a renewal never outlives a rule change.</summary>
    private RenewalTerms RootTerms(WorkloadIdentity agent, Lease lease)
    {
        var request = new CredentialRequest(lease.TaskId, DecidedIntent.Of(lease), lease.IssuerKind, lease.Scope.Audience, null);
        var decision = _policy.Decide(agent, request);
        if (decision.Effect != DecisionEffect.Allow || decision.Grant is not { } grant || !ScopeCoverage.Covers(grant.Scope, lease.Scope))
        {
            var reason = decision.Effect == DecisionEffect.NeedsApproval
                ? "The credential now needs approval; request a new one."
                : "Policy no longer grants this credential: " + decision.Reason;
            throw new BrokerException(BrokerFailure.PermissionDenied, Reasons.PolicyDenied, reason);
        }

        // The original maximum: issue time + the rule's (and the broker's) longest lifetime.
        var ruleMax = grant.Ttl < _options.MaxTtl ? grant.Ttl : _options.MaxTtl;
        return new RenewalTerms(lease.IssuedAt + ruleMax, decision.RuleIds, null);
    }

    /// <summary>
    /// A delegated lease: its holder's own rules do not extend it. The delegation is checked again as at redemption, and
    /// the lease runs at most to the earliest live expiry up its chain (and the broker's maximum from its issue).
    /// </summary>
    private async Task<RenewalTerms> DelegatedTermsAsync(Lease lease, string parentId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var parent = await _leases.GetAsync(parentId, cancellationToken).ConfigureAwait(false);
        if (parent is null || !parent.IsLiveAt(now))
        {
            throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.ParentLeaseNotActive,
                "The lease it was delegated from is no longer active; the delegated credential cannot be renewed.");
        }

        var planner = AgentFacts.Rebuild(parent);
        await _admission.EnsureNotBlockedAsync(planner, parent.TaskId, cancellationToken).ConfigureAwait(false);
        var (chain, chainExpiresAt) = await _delegation.CheckRenewalAsync(planner, parent, lease, cancellationToken).ConfigureAwait(false);
        var brokerMax = lease.IssuedAt + _options.MaxTtl;
        return new RenewalTerms(chainExpiresAt < brokerMax ? chainExpiresAt : brokerMax, lease.RuleIds, chain);
    }

    /// <summary>How far a lease may be renewed, the rules that allow it, and the delegation chain its credential carries.</summary>
    private sealed record RenewalTerms(DateTimeOffset Cap, IReadOnlyList<string> RuleIds, DelegationChain? Delegation);
}
