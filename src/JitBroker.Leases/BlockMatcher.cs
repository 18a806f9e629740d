using JitBroker.Core;

namespace JitBroker.Leases;

/// <summary>
/// The compiled block list, immutable: which block applies to an agent. Patterns are <see cref="GlobPattern"/>s,
/// the same language the admin revocation by pattern uses, so a block and its revocation sweep cover the same
/// agents. An exact pattern wins over wildcards (a dictionary lookup, no matching); among wildcard patterns the
/// ordinally first one wins, so every replica answers the same.
/// </summary>
internal sealed class BlockMatcher
{
    private readonly Dictionary<string, AgentBlock> _exact;
    private readonly (GlobPattern Pattern, AgentBlock Block)[] _wildcards;

    public BlockMatcher(IEnumerable<AgentBlock> blocks)
    {
        var all = blocks.ToList();
        _exact = all.Where(b => !GlobPattern.HasWildcard(b.Pattern)).ToDictionary(b => b.Pattern, StringComparer.Ordinal);
        _wildcards = [.. all.Where(b => GlobPattern.HasWildcard(b.Pattern))
            .OrderBy(b => b.Pattern, StringComparer.Ordinal)
            .Select(b => (GlobPattern.Parse(b.Pattern), b))];
    }

    public static BlockMatcher Empty { get; } = new([]);

    /// <summary>Refuses, before it is stored, a pattern this matcher could not compile.</summary>
    public static void RequireValid(string pattern)
    {
        if (!GlobPattern.TryParse(pattern, out _, out var error))
        {
            throw new ArgumentException(error, nameof(pattern));
        }
    }

    public AgentBlock? Find(string agentId, DateTimeOffset now)
    {
        if (_exact.TryGetValue(agentId, out var exact) && exact.AppliesAt(now))
        {
            return exact;
        }

        foreach (var (pattern, block) in _wildcards)
        {
            if (block.AppliesAt(now) && pattern.IsMatch(agentId))
            {
                return block;
            }
        }

        return null;
    }
}
