using JitBroker.Core;

namespace JitBroker.Leases;

/// <summary>The embedded kill-switch list: one process, gone on restart. Lookups read an immutable snapshot without locking.</summary>
public sealed class InMemoryKillSwitch : IKillSwitch
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, AgentBlock> _blocks = new(StringComparer.Ordinal);
    private volatile BlockMatcher _matcher = BlockMatcher.Empty;

    public ValueTask<AgentBlock?> FindBlockAsync(string agentId, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(agentId);
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(_matcher.Find(agentId, now));
    }

    /// <inheritdoc />
    /// <remarks>A block with the same pattern is replaced.</remarks>
    public ValueTask BlockAsync(AgentBlock block, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(block);
        BlockMatcher.RequireValid(block.Pattern);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            _blocks[block.Pattern] = block;
            _matcher = new BlockMatcher(_blocks.Values);
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask<bool> UnblockAsync(string pattern, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            var removed = _blocks.Remove(pattern);
            if (removed)
            {
                _matcher = new BlockMatcher(_blocks.Values);
            }

            return ValueTask.FromResult(removed);
        }
    }

    /// <inheritdoc />
    /// <remarks>Ordered by pattern (ordinal).</remarks>
    public ValueTask<IReadOnlyList<AgentBlock>> ListAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            return ValueTask.FromResult<IReadOnlyList<AgentBlock>>([.. _blocks.Values.OrderBy(b => b.Pattern, StringComparer.Ordinal)]);
        }
    }
}
