namespace JitBroker.ToolGuard;

/// <summary>
/// The broker's glob language (docs/policy.md "Globs", JitBroker.Core.GlobPattern) for the token's <c>resources</c>:
/// <c>*</c> any run without a separator (<c>/</c> or <c>:</c>), <c>**</c> any run, <c>?</c> one non-separator character,
/// everything else literal, the whole value, ordinal. A pattern the broker would refuse (empty, over 512 characters,
/// <c>***</c>, control characters, surrounding white space) matches nothing here: fail closed.
/// </summary>
public static class ToolGuardGlob
{
    public const int MaxLength = 512;

    public static bool IsMatch(string pattern, string value)
    {
        if (!IsValid(pattern))
        {
            return false;
        }

        // Dynamic programming over (pattern position, value position): linear in their product, no backtracking blow-up.
        var reachable = new bool[value.Length + 1];
        reachable[0] = true;
        for (var p = 0; p < pattern.Length;)
        {
            var next = new bool[value.Length + 1];
            if (pattern[p] == '*')
            {
                var doubleStar = p + 1 < pattern.Length && pattern[p + 1] == '*';
                var carry = false;
                for (var v = 0; v <= value.Length; v++)
                {
                    carry = reachable[v] || (carry && (doubleStar || !IsSeparator(value[v - 1])));
                    next[v] = carry;
                }

                p += doubleStar ? 2 : 1;
            }
            else
            {
                for (var v = 0; v < value.Length; v++)
                {
                    next[v + 1] = reachable[v] && (pattern[p] == '?' ? !IsSeparator(value[v]) : pattern[p] == value[v]);
                }

                p++;
            }

            reachable = next;
        }

        return reachable[value.Length];
    }

    private static bool IsSeparator(char c) => c is '/' or ':';

    private static bool IsValid(string pattern) =>
        pattern.Length is > 0 and <= MaxLength
        && !pattern.Contains("***", StringComparison.Ordinal)
        && !pattern.Any(c => c is (>= '\0' and <= '\x1f') or (>= '\x7f' and <= '\x9f'))
        && !char.IsWhiteSpace(pattern[0]) && !char.IsWhiteSpace(pattern[^1]);
}
