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
    BrokerMetrics Metrics);
