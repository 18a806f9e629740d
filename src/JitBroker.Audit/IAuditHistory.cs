namespace JitBroker.Audit;

/// <summary>The audit chain as the console reads it: a task's verified story, an agent's latest records.</summary>
public interface IAuditHistory
{
    /// <summary>The task's story and the chain's verification (<see cref="AuditTrace.ReadTaskAsync"/>); an empty story when there is no audit file yet.</summary>
    Task<AuditTaskTrace> TraceTaskAsync(string taskId, string? agentId, CancellationToken cancellationToken = default);

    /// <summary>
    /// The agent's latest records (it as the agent, newest last), found among the last <paramref name="scan"/> lines of the
    /// chain; display only — not verified.
    /// </summary>
    Task<IReadOnlyList<AuditRecord>> RecentForAgentAsync(string agentId, int max, int scan, CancellationToken cancellationToken = default);
}
