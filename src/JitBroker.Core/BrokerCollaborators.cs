namespace JitBroker.Core;

/// <summary>
/// The stores and services the request path uses besides attestation, policy and issuance. One object so
/// the broker's constructor stays readable and hosts register each part behind its interface.
/// </summary>
public sealed record BrokerCollaborators(
    ILeaseStore Leases,
    LeaseRevoker Revoker,
    IReplayCache ReplayCache,
    IKillSwitch KillSwitch,
    ApprovalService Approvals,
    IAuditLog Audit,
    BrokerMetrics Metrics)
{
    /// <summary>Signs delegation offers; delegation is unavailable without it.</summary>
    public IDelegationOfferCodec? DelegationOffers { get; init; }

    /// <summary>Who may delegate to whom; without it nobody may.</summary>
    public IDelegationPolicy? DelegationPolicy { get; init; }
}
