using System.Text;
using System.Text.RegularExpressions;

namespace JitBroker.Core;

/// <summary>
/// Identity patterns for kill-switch blocks and approver lists: <c>*</c> matches within one path segment
/// (no <c>/</c>), <c>**</c> matches across segments, <c>?</c> one non-<c>/</c> character; everything else is
/// literal. Compiled once; matching is anchored and linear (non-backtracking engine).
/// </summary>
public sealed class Glob
{
    private readonly Regex _regex;

    private Glob(string pattern, Regex regex)
    {
        Pattern = pattern;
        _regex = regex;
    }

    public string Pattern { get; }

    public static bool TryParse(string pattern, out Glob? glob, out string? error)
    {
        glob = null;
        error = null;
        if (string.IsNullOrWhiteSpace(pattern) || pattern.Length > 512 || pattern.Contains("***", StringComparison.Ordinal) || pattern.Any(char.IsControl))
        {
            error = "a pattern must be 1-512 printable characters without '***'";
            return false;
        }

        var regex = new StringBuilder("^");
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (c == '*' && i + 1 < pattern.Length && pattern[i + 1] == '*')
            {
                regex.Append(".*");
                i++;
            }
            else if (c == '*')
            {
                regex.Append("[^/]*");
            }
            else if (c == '?')
            {
                regex.Append("[^/]");
            }
            else
            {
                regex.Append(Regex.Escape(c.ToString()));
            }
        }

        regex.Append('$');
        glob = new Glob(pattern, new Regex(regex.ToString(), RegexOptions.CultureInvariant | RegexOptions.NonBacktracking));
        return true;
    }

    public static Glob Parse(string pattern) =>
        TryParse(pattern, out var glob, out var error) ? glob! : throw new FormatException($"'{pattern}': {error}");

    public bool IsMatch(string value) => _regex.IsMatch(value);

    public override string ToString() => Pattern;
}
