namespace JitBroker.Core;

/// <summary>An operator's block on an agent identity or identity pattern.</summary>
public sealed record AgentBlock(string Pattern, string Reason, string BlockedBy, DateTimeOffset BlockedAt);

/// <summary>
/// The kill-switch list: agents (or glob patterns of agent ids) refused new credentials until unblocked.
/// Checked on every request; shared by all replicas when a shared store is configured.
/// </summary>
public interface IKillSwitch
{
    /// <summary>The block that applies to <paramref name="agentId"/>, or null.</summary>
    ValueTask<AgentBlock?> FindBlockAsync(string agentId, CancellationToken cancellationToken = default);

    ValueTask BlockAsync(AgentBlock block, CancellationToken cancellationToken = default);

    /// <summary>Removes the block with exactly this pattern; false when there was none.</summary>
    ValueTask<bool> UnblockAsync(string pattern, CancellationToken cancellationToken = default);

    ValueTask<IReadOnlyList<AgentBlock>> ListAsync(CancellationToken cancellationToken = default);
}
