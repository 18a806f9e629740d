namespace JitBroker.Core;

/// <summary>An operator's block on an agent identity or identity pattern, optionally until <see cref="ExpiresAt"/>.</summary>
public sealed record AgentBlock(string Pattern, string Reason, string BlockedBy, DateTimeOffset BlockedAt)
{
    /// <summary>When the block stops refusing new requests by itself; null = until an operator unblocks.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    public bool AppliesAt(DateTimeOffset now) => ExpiresAt is not { } end || now < end;
}

/// <summary>
/// The kill-switch list: agents (or glob patterns of agent ids) refused new credentials until unblocked.
/// Checked on every request; shared by all replicas when a shared store is configured.
/// </summary>
public interface IKillSwitch
{
    /// <summary>A block that applies to <paramref name="agentId"/> at <paramref name="now"/> (expired blocks never do), or null.</summary>
    ValueTask<AgentBlock?> FindBlockAsync(string agentId, DateTimeOffset now, CancellationToken cancellationToken = default);

    ValueTask BlockAsync(AgentBlock block, CancellationToken cancellationToken = default);

    /// <summary>Removes the block with exactly this pattern; false when there was none. Never revives a revoked credential.</summary>
    ValueTask<bool> UnblockAsync(string pattern, CancellationToken cancellationToken = default);

    ValueTask<IReadOnlyList<AgentBlock>> ListAsync(CancellationToken cancellationToken = default);
}
