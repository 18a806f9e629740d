namespace JitBroker.Core.Handlers;

/// <summary>The approver's side of step-up approvals: list what waits, show one, decide it (audited with the approver as actor).</summary>
public sealed class ApprovalDecisionHandler
{
    private readonly ApprovalService _approvals;
    private readonly IAuditLog _audit;

    public ApprovalDecisionHandler(ApprovalService approvals, IAuditLog audit)
    {
        _approvals = approvals;
        _audit = audit;
    }

    public Task<IReadOnlyList<ApprovalRecord>> ListPendingAsync(int max, CancellationToken cancellationToken = default) =>
        _approvals.ListPendingAsync(Math.Clamp(max, 1, 1000), cancellationToken);

    public Task<ApprovalRecord?> GetAsync(string approvalId, CancellationToken cancellationToken = default) =>
        _approvals.GetAsync(approvalId, cancellationToken);

    public async Task<ApprovalRecord> DecideAsync(WorkloadIdentity admin, string approvalId, bool approve, string reason,
        CancellationToken cancellationToken = default)
    {
        var decided = await _approvals.DecideAsync(admin, approvalId, approve, reason, cancellationToken).ConfigureAwait(false);
        await _audit.AppendAsync(new AuditEvent
        {
            Type = AuditEventTypes.ApprovalDecided, AgentId = decided.AgentId, TaskId = decided.Request.TaskId, Intent = decided.Request.Intent,
            Decision = approve ? "approved" : "denied", RuleIds = decided.RuleIds, Actor = admin.Id, Detail = $"{approvalId}: {reason}",
        }, cancellationToken).ConfigureAwait(false);
        return decided;
    }
}
