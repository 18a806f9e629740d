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
    private readonly ILogger<EndTaskHandler> _log;

    public EndTaskHandler(AgentAdmission admission, LeaseTermination termination, ILogger<EndTaskHandler> log)
    {
        _admission = admission;
        _termination = termination;
        _log = log;
    }

    public async Task<EndTaskResult> HandleAsync(AttestationEvidence evidence, string taskId, CancellationToken cancellationToken = default)
    {
        var agent = await _admission.AttestAsync(evidence, cancellationToken).ConfigureAwait(false);
        CredentialRequestValidator.RequireTaskId(taskId);

        // Only the calling agent's leases: one agent can never end another agent's task. Listing and claiming are one
        // ledger call (one round trip on one Redis); the task.ended record is written with the leases' lease.revoked
        // records, as one append (one group commit).
        var revoked = await _termination.RevokeTaskAsync(agent.Id, taskId, summary => new AuditEvent
        {
            Type = AuditEventTypes.TaskEnded, AgentId = agent.Id, TaskId = taskId, Detail = summary,
        }, cancellationToken).ConfigureAwait(false);
        if (revoked.Outcomes.Count == 0)
        {
            throw new BrokerException(BrokerFailure.NotFound, Reasons.TaskNotFound, $"No leases for task '{taskId}' held by the calling agent.");
        }

        await revoked.Recorded.ConfigureAwait(false);
        BrokerLog.TaskEnded(_log, taskId, agent.Id, revoked.Outcomes.Count);
        return new EndTaskResult(taskId, revoked.Outcomes);
    }
}
