namespace JitBroker.Leases;

/// <summary>
/// A kill-switch pattern over agent ids, with exactly the semantics of <see cref="Core.Glob"/> (the same
/// matcher the admin revocation by pattern uses, so a block and its revocation sweep cover the same agents):
/// <c>*</c> within one path segment, <c>**</c> across segments, <c>?</c> one non-<c>/</c> character.
/// Patterns without wildcards match exactly one agent id, without a regex.
/// </summary>
public sealed class AgentPattern
{
    private readonly Core.Glob? _glob;

    public AgentPattern(string pattern)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pattern);
        Pattern = pattern;
        if (IsGlob(pattern))
        {
            _glob = Core.Glob.Parse(pattern);
        }
    }

    public string Pattern { get; }

    /// <summary>True when the pattern has wildcards; otherwise it matches exactly one agent id.</summary>
    public bool IsWildcard => _glob is not null;

    public static bool IsGlob(string pattern) => pattern.AsSpan().IndexOfAny('*', '?') >= 0;

    public bool Matches(string agentId) =>
        _glob is null ? string.Equals(Pattern, agentId, StringComparison.Ordinal) : _glob.IsMatch(agentId);
}

/// <summary>
/// The compiled block list, immutable: which block applies to an agent. An exact pattern wins over
/// wildcards; among wildcard patterns the ordinally first one wins, so every replica answers the same.
/// </summary>
internal sealed class BlockMatcher
{
    private readonly Dictionary<string, Core.AgentBlock> _exact;
    private readonly (AgentPattern Pattern, Core.AgentBlock Block)[] _wildcards;

    public BlockMatcher(IEnumerable<Core.AgentBlock> blocks)
    {
        var all = blocks.ToList();
        _exact = all.Where(b => !AgentPattern.IsGlob(b.Pattern)).ToDictionary(b => b.Pattern, StringComparer.Ordinal);
        _wildcards = [.. all.Where(b => AgentPattern.IsGlob(b.Pattern))
            .OrderBy(b => b.Pattern, StringComparer.Ordinal)
            .Select(b => (new AgentPattern(b.Pattern), b))];
    }

    public static BlockMatcher Empty { get; } = new([]);

    public Core.AgentBlock? Find(string agentId, DateTimeOffset now)
    {
        if (_exact.TryGetValue(agentId, out var exact) && exact.AppliesAt(now))
        {
            return exact;
        }

        foreach (var (pattern, block) in _wildcards)
        {
            if (block.AppliesAt(now) && pattern.Matches(agentId))
            {
                return block;
            }
        }

        return null;
    }
}
