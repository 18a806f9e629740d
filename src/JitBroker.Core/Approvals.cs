namespace JitBroker.Core;

public enum ApprovalState
{
    Pending,
    Approved,
    Denied,
    /// <summary>Approved and collected: an approval is single-use.</summary>
    Consumed,
    Expired,
}

/// <summary>
/// A step-up approval: the canonical request a human approves (what the broker will grant, not the agent's
/// paraphrase), bound to the exact request by <see cref="RequestHash"/>.
/// </summary>
public sealed record ApprovalRecord
{
    public required string ApprovalId { get; init; }
    /// <summary>SHA-256 over the canonical request; the credential is only ever issued for this exact request.</summary>
    public required string RequestHash { get; init; }
    public required string AgentId { get; init; }
    public required CredentialRequest Request { get; init; }
    public required IReadOnlyList<string> RuleIds { get; init; }
    /// <summary>Glob patterns of admin principals the rule names as approvers.</summary>
    public required IReadOnlyList<string> Approvers { get; init; }
    /// <summary>The person accountable for the rule that asked (policy <c>owner</c>); they may not approve it themselves.</summary>
    public string? Owner { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset ExpiresAt { get; init; }
    public ApprovalState State { get; init; } = ApprovalState.Pending;
    public string? DecidedBy { get; init; }
    public DateTimeOffset? DecidedAt { get; init; }
    public string? DecisionReason { get; init; }
}

/// <summary>Pending and decided approvals. Every state change is a compare-and-set on the current state.</summary>
public interface IApprovalStore
{
    Task PutAsync(ApprovalRecord approval, CancellationToken cancellationToken = default);

    /// <summary>
    /// Opens a pending approval for <paramref name="approval"/>'s agent, atomically: when the agent already has a pending,
    /// unexpired approval (at <paramref name="now"/>) with the same <see cref="ApprovalRecord.RequestHash"/>, that one is
    /// returned and nothing is stored (<see cref="ApprovalOpening.Duplicate"/>); otherwise, when the agent already has
    /// <paramref name="maxPendingPerAgent"/> pending, unexpired approvals, nothing is stored
    /// (<see cref="ApprovalOpening.CapReached"/>); otherwise it is stored (<see cref="ApprovalOpening.Created"/>).
    /// </summary>
    Task<OpenedApproval> OpenPendingAsync(ApprovalRecord approval, int? maxPendingPerAgent, DateTimeOffset now, CancellationToken cancellationToken = default);

    Task<ApprovalRecord?> GetAsync(string approvalId, CancellationToken cancellationToken = default);

    /// <summary>Pending approvals not yet expired at <paramref name="now"/>, oldest first, at most <paramref name="max"/>.</summary>
    Task<IReadOnlyList<ApprovalRecord>> ListPendingAsync(DateTimeOffset now, int max, CancellationToken cancellationToken = default);

    /// <summary>
    /// Atomically moves the approval from <paramref name="expected"/> to <paramref name="next"/>'s state
    /// (storing <paramref name="next"/>). Returns false, changing nothing, when the stored state is not
    /// <paramref name="expected"/> — so two approvers, or an approver and an expiry, cannot both win.
    /// </summary>
    Task<bool> TransitionAsync(ApprovalRecord next, ApprovalState expected, CancellationToken cancellationToken = default);
}

public enum ApprovalOpening
{
    Created,
    /// <summary>The agent already waits on an approval for exactly this request: that one is the answer.</summary>
    Duplicate,
    CapReached,
}

/// <summary>What <see cref="IApprovalStore.OpenPendingAsync"/> did; <see cref="Record"/> is null only for <see cref="ApprovalOpening.CapReached"/>.</summary>
public sealed record OpenedApproval(ApprovalOpening Outcome, ApprovalRecord? Record);
