using System.Text;
using System.Text.RegularExpressions;

namespace JitBroker.Leases;

/// <summary>
/// A kill-switch pattern over agent ids: <c>*</c> matches within one path segment (no <c>/</c>), <c>**</c>
/// matches across segments, every other character is literal. <c>spiffe://td/agents/*</c> matches
/// <c>spiffe://td/agents/a</c> but not <c>spiffe://td/agents/a/b</c>; <c>spiffe://td/**</c> matches both.
/// </summary>
public sealed class AgentPattern
{
    private readonly Regex? _regex;

    public AgentPattern(string pattern)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pattern);
        Pattern = pattern;
        if (IsGlob(pattern))
        {
            // Non-backtracking: an operator's pattern must never cost more than linear time per request.
            _regex = new Regex(ToRegex(pattern), RegexOptions.CultureInvariant | RegexOptions.NonBacktracking);
        }
    }

    public string Pattern { get; }

    /// <summary>True when the pattern has wildcards; otherwise it matches exactly one agent id.</summary>
    public bool IsWildcard => _regex is not null;

    public static bool IsGlob(string pattern) => pattern.Contains('*', StringComparison.Ordinal);

    public bool Matches(string agentId) =>
        _regex is null ? string.Equals(Pattern, agentId, StringComparison.Ordinal) : _regex.IsMatch(agentId);

    private static string ToRegex(string pattern)
    {
        var regex = new StringBuilder("^");
        for (var i = 0; i < pattern.Length; i++)
        {
            if (pattern[i] != '*')
            {
                regex.Append(Regex.Escape(pattern[i].ToString()));
            }
            else if (i + 1 < pattern.Length && pattern[i + 1] == '*')
            {
                regex.Append(".*");
                i++;
            }
            else
            {
                regex.Append("[^/]*");
            }
        }

        return regex.Append('$').ToString();
    }
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

    public Core.AgentBlock? Find(string agentId)
    {
        if (_exact.TryGetValue(agentId, out var exact))
        {
            return exact;
        }

        foreach (var (pattern, block) in _wildcards)
        {
            if (pattern.Matches(agentId))
            {
                return block;
            }
        }

        return null;
    }
}
