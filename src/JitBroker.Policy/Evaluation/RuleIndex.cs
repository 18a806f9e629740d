using System.Collections.Frozen;

namespace JitBroker.Policy.Evaluation;

/// <summary>
/// Narrows the rules a decision must look at, without changing which rule decides: for an agent's trust
/// domain and a declared action it yields, in policy order (files by name, rules by position), every rule
/// that <em>could</em> apply — a superset of the rules that do, since each candidate is still matched in full.
/// </summary>
/// <remarks>
/// Actions are dotted names (<c>tickets.read</c>). An action pattern whose first dotted segment is
/// literal (<c>tickets.*</c>, <c>tickets.read</c>, <c>tickets</c>) can only match actions with that same
/// first segment, so it is filed under that segment; a rule with any other pattern (<c>*.delete</c>,
/// <c>tick*</c>) is filed as "unkeyed" and is a candidate for every action. A lookup merges the keyed
/// and unkeyed lists by file position, so first-match-in-file-order is preserved exactly.
/// </remarks>
internal sealed class RuleIndex
{
    private static readonly int[] None = [];

    private readonly CompiledRule[] _rules;
    private readonly FrozenDictionary<string, Bucket> _byTrustDomain;
    private readonly Bucket _anyDomain;

    public RuleIndex(IReadOnlyList<CompiledRule> rulesInFileOrder)
    {
        _rules = [.. rulesInFileOrder];

        // A rule that names no trust domain (issuers only) may apply to an agent of any domain: it is filed in
        // every domain's bucket and in the fallback used for domains no rule names. Buckets are created first so
        // that each receives those rules in file order.
        var builders = _rules.Where(r => r.TrustDomains is not null).SelectMany(r => r.TrustDomains!)
            .Distinct(StringComparer.Ordinal).ToDictionary(d => d, _ => new BucketBuilder(), StringComparer.Ordinal);
        var anyDomain = new BucketBuilder();
        for (var position = 0; position < _rules.Length; position++)
        {
            var rule = _rules[position];
            var keys = rule.Actions.Select(a => ActionKeyOf(a.Pattern)).ToArray();
            var buckets = rule.TrustDomains is { } domains
                ? domains.Distinct(StringComparer.Ordinal).Select(d => builders[d])
                : builders.Values.Append(anyDomain);
            foreach (var bucket in buckets)
            {
                bucket.Add(position, keys);
            }
        }

        _byTrustDomain = builders.ToFrozenDictionary(b => b.Key, b => b.Value.Build(), StringComparer.Ordinal);
        _anyDomain = anyDomain.Build();
    }

    /// <summary>Rules that may apply to an agent of <paramref name="trustDomain"/> declaring <paramref name="action"/>.</summary>
    public Candidates For(string trustDomain, string action)
    {
        if (!_byTrustDomain.TryGetValue(trustDomain, out var bucket))
        {
            bucket = _anyDomain;
        }

        var dot = action.IndexOf('.');
        var key = dot < 0 ? action.AsSpan() : action.AsSpan(0, dot);
        var keyed = bucket.KeyedLookup.TryGetValue(key, out var positions) ? positions : None;
        return new Candidates(_rules, keyed, bucket.Unkeyed);
    }

    /// <summary>The literal first dotted segment of an action pattern, or null when it holds a wildcard.</summary>
    internal static string? ActionKeyOf(string pattern)
    {
        var dot = pattern.IndexOf('.');
        var head = dot < 0 ? pattern : pattern[..dot];
        return head.AsSpan().IndexOfAny('*', '?') >= 0 ? null : head;
    }

    /// <summary>Allocation-free merge of two ascending position lists; yields rules in file order.</summary>
    public struct Candidates(CompiledRule[] rules, int[] keyed, int[] unkeyed)
    {
        private int _nextKeyed;
        private int _nextUnkeyed;

        public CompiledRule Current { get; private set; } = null!;

        public readonly Candidates GetEnumerator() => this;

        public bool MoveNext()
        {
            var haveKeyed = _nextKeyed < keyed.Length;
            var haveUnkeyed = _nextUnkeyed < unkeyed.Length;
            if (!haveKeyed && !haveUnkeyed)
            {
                return false;
            }

            // Lists are disjoint (a rule is either keyed or unkeyed), so positions never tie.
            Current = rules[haveKeyed && (!haveUnkeyed || keyed[_nextKeyed] < unkeyed[_nextUnkeyed])
                ? keyed[_nextKeyed++]
                : unkeyed[_nextUnkeyed++]];
            return true;
        }
    }

    private sealed class Bucket(FrozenDictionary<string, int[]> keyed, int[] unkeyed)
    {
        public FrozenDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> KeyedLookup { get; } =
            keyed.GetAlternateLookup<ReadOnlySpan<char>>();

        public int[] Unkeyed { get; } = unkeyed;
    }

    private sealed class BucketBuilder
    {
        public Dictionary<string, List<int>> Keyed { get; } = new(StringComparer.Ordinal);

        public List<int> Unkeyed { get; } = [];

        /// <summary>Files the rule at <paramref name="position"/> under each literal action key, or as unkeyed.</summary>
        public void Add(int position, string?[] keys)
        {
            if (keys.Any(k => k is null))
            {
                Unkeyed.Add(position);
                return;
            }

            foreach (var key in keys.Distinct(StringComparer.Ordinal))
            {
                if (!Keyed.TryGetValue(key!, out var positions))
                {
                    Keyed[key!] = positions = [];
                }

                positions.Add(position);
            }
        }

        // Positions were added in ascending order, so every list is already sorted.
        public Bucket Build() => new(
            Keyed.ToFrozenDictionary(k => k.Key, k => k.Value.ToArray(), StringComparer.Ordinal),
            [.. Unkeyed]);
    }
}
