using System.Security.Cryptography;

namespace JitBroker.Core.Handlers;

/// <summary>
/// OfferDelegation, the planner's half of a delegation (RFC 8693 in spirit): check everything that can be checked now
/// and sign a single-use offer of a narrower slice of the planner's own lease for one named worker.
/// </summary>
public sealed class OfferDelegationHandler
{
    /// <summary>How long a worker has to redeem an offer (never beyond the parent lease).</summary>
    public static readonly TimeSpan OfferLifetime = TimeSpan.FromMinutes(5);

    private readonly AgentAdmission _admission;
    private readonly ILeaseLedger _leases;
    private readonly LeaseUsability _usability;
    private readonly DelegationRules _rules;
    private readonly BestEffortAudit _audit;
    private readonly BrokerOptions _options;
    private readonly TimeProvider _time;
    private readonly IDelegationOfferCodec? _offers;

    /// <param name="offers">Signs delegation offers; delegation is unavailable without it.</param>
    public OfferDelegationHandler(AgentAdmission admission, ILeaseLedger leases, LeaseUsability usability, DelegationRules rules, BestEffortAudit audit,
        BrokerOptions options, TimeProvider time, IDelegationOfferCodec? offers = null)
    {
        _admission = admission;
        _leases = leases;
        _usability = usability;
        _rules = rules;
        _audit = audit;
        _options = options;
        _time = time;
        _offers = offers;
    }

    public async Task<(string Token, DelegationOffer Offer)> HandleAsync(AttestationEvidence evidence, string parentLeaseId, string workerId,
        IReadOnlyList<string> tools, IReadOnlyList<string> resources, TimeSpan? requestedTtl, CancellationToken cancellationToken = default)
    {
        var offers = _rules.RequireConfigured(_offers);
        var planner = await _admission.AttestAsync(evidence, cancellationToken).ConfigureAwait(false);
        if (string.IsNullOrWhiteSpace(workerId) || workerId.Length > 2048 || workerId.Any(char.IsControl))
        {
            throw new BrokerException(BrokerFailure.InvalidArgument, Reasons.RequestInvalid, "worker_id must name the worker's identity.");
        }

        var parent = await OwnLiveLeaseAsync(planner.Id, parentLeaseId, cancellationToken).ConfigureAwait(false);
        await _admission.EnsureNotBlockedAsync(planner, parent.TaskId, cancellationToken).ConfigureAwait(false);
        await _usability.EnsureUsableAsync(parent, _time.GetUtcNow(), "A lease up the delegation chain is no longer active.", cancellationToken).ConfigureAwait(false);
        var scope = _rules.NarrowedScope(parent, tools, resources);
        await _rules.CheckAsync(planner, workerId, parent, cancellationToken).ConfigureAwait(false);

        var now = _time.GetUtcNow();
        var remaining = parent.ExpiresAt - now;
        var ttl = requestedTtl is { } wanted && wanted < remaining ? wanted : remaining;
        if (ttl < _options.MinTtl)
        {
            throw LeaseUsability.NotActive("The parent lease has too little time left to delegate.");
        }

        var offer = new DelegationOffer(NewOfferId(), parent.LeaseId, planner.Id, workerId, scope.Tools, scope.Resources, ttl,
            now + (OfferLifetime < remaining ? OfferLifetime : remaining));
        await _audit.RecordAsync(new AuditEvent
        {
            Type = AuditEventTypes.CredentialDelegated, AgentId = planner.Id, TaskId = parent.TaskId, LeaseId = parent.LeaseId,
            Decision = "offered", Detail = $"offer {offer.OfferId} to {workerId}: tools [{string.Join(",", scope.Tools)}], resources [{string.Join(",", scope.Resources)}]",
        }, cancellationToken).ConfigureAwait(false);
        return (offers.Encode(offer), offer);
    }

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

        return lease.IsLiveAt(_time.GetUtcNow()) ? lease : throw LeaseUsability.NotActive("The lease is no longer active.");
    }

    private static string NewOfferId()
    {
        Span<byte> random = stackalloc byte[16];
        RandomNumberGenerator.Fill(random);
        return "dof_" + Convert.ToHexStringLower(random);
    }
}
