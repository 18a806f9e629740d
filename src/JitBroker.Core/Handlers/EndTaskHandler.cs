using Microsoft.Extensions.Logging;

namespace JitBroker.Core.Handlers;

/// <summary>
/// EndTask: revokes every lease the calling agent holds for the task, and everything delegated from them, in this call,
/// and reports each lease's outcome. A failed revocation stays scheduled and is retried.
/// </summary>
public sealed class EndTaskHandler
{
    private readonly AgentAdmission _admission;
    private readonly LeaseTermination _termination;
    private readonly BestEffortAudit _audit;
    private readonly ILogger<EndTaskHandler> _log;

    public EndTaskHandler(AgentAdmission admission, LeaseTermination termination, BestEffortAudit audit, ILogger<EndTaskHandler> log)
    {
        _admission = admission;
        _termination = termination;
        _audit = audit;
        _log = log;
    }

    public async Task<EndTaskResult> HandleAsync(AttestationEvidence evidence, string taskId, CancellationToken cancellationToken = default)
    {
        var agent = await _admission.AttestAsync(evidence, cancellationToken).ConfigureAwait(false);
        CredentialRequestValidator.RequireTaskId(taskId);

        // Only the calling agent's leases: one agent can never end another agent's task. Listing and claiming are one
        // ledger call (one round trip on one Redis).
        var revoked = await _termination.RevokeTaskAsync(agent.Id, taskId, cancellationToken).ConfigureAwait(false);
        if (revoked.Outcomes.Count == 0)
        {
            throw new BrokerException(BrokerFailure.NotFound, Reasons.TaskNotFound, $"No leases for task '{taskId}' held by the calling agent.");
        }

        // Queued behind the leases' lease.revoked records and awaited with them: one group commit for all, not two in a row.
        await Task.WhenAll(revoked.Recorded, _audit.RecordAsync(new AuditEvent
        {
            Type = AuditEventTypes.TaskEnded, AgentId = agent.Id, TaskId = taskId, Detail = revoked.Summary,
        }, cancellationToken)).ConfigureAwait(false);
        BrokerLog.TaskEnded(_log, taskId, agent.Id, revoked.Outcomes.Count);
        return new EndTaskResult(taskId, revoked.Outcomes);
    }
}
