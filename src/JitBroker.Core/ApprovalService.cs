using System.Security.Cryptography;

namespace JitBroker.Core;

/// <summary>
/// Step-up approvals: create one for a request that needs it, let an approver decide, and let the agent
/// collect — once — the credential for exactly the request that was approved.
/// </summary>
public sealed class ApprovalService
{

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);
    private readonly IApprovalStore _store;
    private readonly TimeProvider _time;
    private readonly IApprovalNotifications? _notifications;

    public ApprovalService(IApprovalStore store, TimeProvider time, IApprovalNotifications? notifications = null)
    {
        _store = store;
        _time = time;
        _notifications = notifications;
    }

    /// <summary>
    /// Opens a pending approval for the request, or answers with the agent's pending approval for the identical request
    /// (de-duplicated by <paramref name="requestHash"/>, so re-sending a request does not queue it twice). Throws
    /// ResourceExhausted (<see cref="Reasons.Quota.PendingApprovals"/>) when the agent already has
    /// <paramref name="maxPendingPerAgent"/> pending approvals.
    /// </summary>
    public async Task<OpenedApproval> CreateAsync(WorkloadIdentity agent, CredentialRequest request, string requestHash,
        PolicyDecision decision, int? maxPendingPerAgent = null, CancellationToken cancellationToken = default)
    {
        var requirement = decision.Approval ?? throw new InvalidOperationException("A needs-approval decision must name its approvers.");
        var now = _time.GetUtcNow();
        var record = new ApprovalRecord
        {
            ApprovalId = NewId(),
            RequestHash = requestHash,
            AgentId = agent.Id,
            // The approver sees what the broker would grant (the canonical request), not the agent's wording alone.
            Request = request with { RequestedTtl = decision.Grant?.Ttl ?? request.RequestedTtl },
            RuleIds = decision.RuleIds,
            Approvers = requirement.Approvers,
            Owner = decision.Owner,
            CreatedAt = now,
            ExpiresAt = now + requirement.Timeout,
        };
        var opened = await _store.OpenPendingAsync(record, maxPendingPerAgent, now, cancellationToken).ConfigureAwait(false);
        if (opened.Outcome == ApprovalOpening.Created)
        {
            // Only a newly stored approval: a re-sent identical request must not page the approvers again.
            _notifications?.Opened(opened.Record!, decision.Owner);
        }

        return opened.Outcome != ApprovalOpening.CapReached
            ? opened
            : throw new BrokerException(BrokerFailure.ResourceExhausted, Reasons.Quota.PendingApprovals,
                $"This agent already has its maximum of {maxPendingPerAgent} pending approvals; collect or wait for one before asking for another.");
    }

    /// <summary>
    /// The agent collects an approval for its re-submitted request. Waits up to <paramref name="wait"/> for a
    /// decision. Returns the consumed record when approved (single use), the pending record when still
    /// undecided; throws PermissionDenied when denied, expired, used, or bound to another request.
    /// </summary>
    public async Task<ApprovalRecord> CollectAsync(string approvalId, WorkloadIdentity agent, string requestHash, TimeSpan wait,
        CancellationToken cancellationToken = default)
    {
        var until = _time.GetUtcNow() + wait;
        while (true)
        {
            var record = await _store.GetAsync(approvalId, cancellationToken).ConfigureAwait(false);
            // Another agent's approval id is indistinguishable from an unknown one.
            if (record is null || !string.Equals(record.AgentId, agent.Id, StringComparison.Ordinal))
            {
                throw Denied(Reasons.Approval.NotFound, "No such approval for the calling agent.");
            }

            if (!string.Equals(record.RequestHash, requestHash, StringComparison.Ordinal))
            {
                throw Denied(Reasons.Approval.RequestMismatch, "The approval was granted for a different request; re-submit exactly the approved request.");
            }

            var now = _time.GetUtcNow();
            switch (record.State)
            {
                case ApprovalState.Approved when now < record.ExpiresAt:
                    var consumed = record with { State = ApprovalState.Consumed };
                    if (await _store.TransitionAsync(consumed, ApprovalState.Approved, cancellationToken).ConfigureAwait(false))
                    {
                        return consumed;
                    }

                    continue; // raced with another collector or an expiry: read again
                case ApprovalState.Pending when now < record.ExpiresAt:
                    if (now >= until)
                    {
                        return record;
                    }

                    await Task.Delay(PollInterval, _time, cancellationToken).ConfigureAwait(false);
                    continue;
                case ApprovalState.Denied:
                    throw Denied(Reasons.Approval.Denied, $"An approver denied the request{(record.DecisionReason is { Length: > 0 } r ? ": " + r : ".")}");
                case ApprovalState.Consumed:
                    throw Denied(Reasons.Approval.AlreadyUsed, "The approval was already used; an approval is good for one credential.");
                default:
                    await ExpireAsync(record, cancellationToken).ConfigureAwait(false);
                    throw Denied(Reasons.Approval.Expired, "The approval expired before it was used.");
            }
        }
    }

    /// <summary>
    /// An approver's decision. The caller (the admin surface) has already checked that the approver is an
    /// admin principal; here: named by the rule, not the requesting agent, and the approval still pending.
    /// </summary>
    public async Task<ApprovalRecord> DecideAsync(WorkloadIdentity approver, string approvalId, bool approve, string reason,
        CancellationToken cancellationToken = default)
    {
        var record = await _store.GetAsync(approvalId, cancellationToken).ConfigureAwait(false)
            ?? throw new BrokerException(BrokerFailure.NotFound, Reasons.Approval.NotFound, $"No approval '{approvalId}'.");
        if (string.Equals(approver.Id, record.AgentId, StringComparison.Ordinal))
        {
            throw Denied(Reasons.Approval.SelfApproval, "An agent can never approve its own request.");
        }

        if (IsOwner(approver, record.Owner))
        {
            throw Denied(Reasons.Approval.SelfApproval, "The rule's accountable owner cannot approve a request the rule's agent made; another approver must.");
        }

        if (!record.Approvers.Any(p => GlobPattern.TryParse(p, out var glob, out _) && glob!.IsMatch(approver.Id)))
        {
            throw Denied(Reasons.Approval.NotAnApprover, "The rule that asked for this approval does not name you as an approver.");
        }

        var now = _time.GetUtcNow();
        if (record.State != ApprovalState.Pending || now >= record.ExpiresAt)
        {
            throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Approval.NotPending, $"The approval is {(now >= record.ExpiresAt && record.State == ApprovalState.Pending ? "expired" : record.State.ToString().ToLowerInvariant())}.");
        }

        var decided = record with
        {
            State = approve ? ApprovalState.Approved : ApprovalState.Denied,
            DecidedBy = approver.Id,
            DecidedAt = now,
            DecisionReason = reason,
        };
        return await _store.TransitionAsync(decided, ApprovalState.Pending, cancellationToken).ConfigureAwait(false)
            ? decided
            : throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Approval.NotPending, "Someone else decided this approval first.");
    }

    public Task<ApprovalRecord?> GetAsync(string approvalId, CancellationToken cancellationToken = default) =>
        _store.GetAsync(approvalId, cancellationToken);

    public Task<IReadOnlyList<ApprovalRecord>> ListPendingAsync(int max, CancellationToken cancellationToken = default) =>
        _store.ListPendingAsync(_time.GetUtcNow(), max, cancellationToken);

    private async Task ExpireAsync(ApprovalRecord record, CancellationToken cancellationToken)
    {
        if (record.State is ApprovalState.Pending or ApprovalState.Approved)
        {
            await _store.TransitionAsync(record with { State = ApprovalState.Expired }, record.State, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The approver is the rule's owner (an e-mail address or team alias) when its principal or its verified e-mail (a fact
    /// the console adds for a signed-in person) equals the owner, ignoring case as e-mail domains do.
    /// </summary>
    private static bool IsOwner(WorkloadIdentity approver, string? owner) =>
        owner is { Length: > 0 } &&
        (string.Equals(approver.Id, owner, StringComparison.OrdinalIgnoreCase) ||
         (approver.Facts.TryGetValue("email", out var email) && string.Equals(email, owner, StringComparison.OrdinalIgnoreCase)));

    private static BrokerException Denied(string reason, string message) => new(BrokerFailure.PermissionDenied, reason, message);

    private static string NewId()
    {
        Span<byte> random = stackalloc byte[16];
        RandomNumberGenerator.Fill(random);
        return "apr_" + Convert.ToHexStringLower(random);
    }
}
