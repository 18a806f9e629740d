using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.RegularExpressions;

namespace JitBroker.Policy;

/// <summary>
/// A glob compiled once, at policy load, and matched many times. The language is deliberately tiny:
/// <list type="bullet">
/// <item><c>*</c> matches any run of characters, possibly empty, that contains no <c>/</c>;</item>
/// <item><c>**</c> matches any run of characters, possibly empty, including <c>/</c>;</item>
/// <item><c>?</c> matches exactly one character (UTF-16 code unit) other than <c>/</c>;</item>
/// <item>every other character matches itself, ordinal and case-sensitive. There are no escapes,
/// character classes, braces or negations: <c>[</c>, <c>\</c>, <c>{</c>, <c>.</c> and friends are literal.</item>
/// </list>
/// A pattern always matches the whole value. Invalid patterns (empty, longer than <see cref="MaxLength"/>,
/// three or more consecutive <c>*</c>, control characters, leading or trailing white space) are rejected by
/// <see cref="Parse"/> so that a typo fails the policy load rather than silently matching something else.
/// </summary>
/// <remarks>
/// Matching never backtracks: common shapes (<c>literal</c>, <c>prefix*</c>, <c>prefix**</c>, <c>*suffix</c>,
/// <c>**suffix</c>) are ordinal comparisons; any other shape runs on an anchored
/// <see cref="RegexOptions.NonBacktracking"/> regex in which every literal character is escaped, so a
/// pattern can neither inject regex syntax nor cost more than linear time. Instances are immutable and
/// safe to share between threads.
/// </remarks>
public sealed class GlobPattern
{
    /// <summary>Longest pattern accepted, in characters.</summary>
    public const int MaxLength = 512;

    private readonly Shape _shape;
    private readonly string _literal;
    private readonly Regex? _regex;

    private GlobPattern(string pattern, Shape shape, string literal, Regex? regex)
    {
        Pattern = pattern;
        _shape = shape;
        _literal = literal;
        _regex = regex;
    }

    private enum Shape
    {
        Literal,
        PrefixThenSegment,
        PrefixThenAnything,
        SegmentThenSuffix,
        AnythingThenSuffix,
        General,
    }

    /// <summary>The pattern text exactly as written in the policy.</summary>
    public string Pattern { get; }

    /// <summary>True when the pattern has no wildcard and therefore matches exactly one value.</summary>
    public bool IsLiteral => _shape == Shape.Literal;

    /// <summary>Compiles <paramref name="pattern"/>; throws <see cref="FormatException"/> saying what is wrong.</summary>
    public static GlobPattern Parse(string pattern) =>
        TryParse(pattern, out var glob, out var error) ? glob : throw new FormatException(error);

    /// <summary>Compiles <paramref name="pattern"/>, or returns false with a one-line explanation.</summary>
    public static bool TryParse(string pattern, [NotNullWhen(true)] out GlobPattern? glob, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        glob = null;
        error = Validate(pattern);
        if (error is not null)
        {
            return false;
        }

        var tokens = Tokenize(pattern);
        glob = tokens switch
        {
            [{ Kind: TokenKind.Literal } only] => new GlobPattern(pattern, Shape.Literal, only.Text, null),
            [{ Kind: TokenKind.Star }] => new GlobPattern(pattern, Shape.PrefixThenSegment, string.Empty, null),
            [{ Kind: TokenKind.DoubleStar }] => new GlobPattern(pattern, Shape.PrefixThenAnything, string.Empty, null),
            [{ Kind: TokenKind.Literal } head, { Kind: TokenKind.Star }] => new GlobPattern(pattern, Shape.PrefixThenSegment, head.Text, null),
            [{ Kind: TokenKind.Literal } head, { Kind: TokenKind.DoubleStar }] => new GlobPattern(pattern, Shape.PrefixThenAnything, head.Text, null),
            [{ Kind: TokenKind.Star }, { Kind: TokenKind.Literal } tail] => new GlobPattern(pattern, Shape.SegmentThenSuffix, tail.Text, null),
            [{ Kind: TokenKind.DoubleStar }, { Kind: TokenKind.Literal } tail] => new GlobPattern(pattern, Shape.AnythingThenSuffix, tail.Text, null),
            _ => new GlobPattern(pattern, Shape.General, string.Empty, ToRegex(tokens)),
        };
        return true;
    }

    /// <summary>True when the whole of <paramref name="value"/> matches the pattern.</summary>
    public bool IsMatch(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return _shape switch
        {
            Shape.Literal => string.Equals(value, _literal, StringComparison.Ordinal),
            Shape.PrefixThenAnything => value.StartsWith(_literal, StringComparison.Ordinal),
            Shape.PrefixThenSegment => value.StartsWith(_literal, StringComparison.Ordinal) && value.IndexOf('/', _literal.Length) < 0,
            Shape.AnythingThenSuffix => value.EndsWith(_literal, StringComparison.Ordinal),
            Shape.SegmentThenSuffix => value.EndsWith(_literal, StringComparison.Ordinal) && value.AsSpan(0, value.Length - _literal.Length).IndexOf('/') < 0,
            _ => _regex!.IsMatch(value),
        };
    }

    public override string ToString() => Pattern;

    private static string? Validate(string pattern)
    {
        if (pattern.Length == 0)
        {
            return "a glob pattern must not be empty";
        }

        if (pattern.Length > MaxLength)
        {
            return $"a glob pattern must be at most {MaxLength} characters";
        }

        if (pattern.AsSpan().ContainsAnyInRange('\0', '\x1f') || pattern.Contains('\x7f'))
        {
            return $"glob pattern '{Printable(pattern)}' contains a control character";
        }

        if (char.IsWhiteSpace(pattern[0]) || char.IsWhiteSpace(pattern[^1]))
        {
            return $"glob pattern '{pattern}' has leading or trailing white space";
        }

        if (pattern.Contains("***", StringComparison.Ordinal))
        {
            return $"glob pattern '{pattern}' has three or more consecutive '*'; write '*' (one path segment) or '**' (any depth)";
        }

        return null;
    }

    private static List<Token> Tokenize(string pattern)
    {
        var tokens = new List<Token>();
        var literal = new StringBuilder();
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (c is not ('*' or '?'))
            {
                literal.Append(c);
                continue;
            }

            if (literal.Length > 0)
            {
                tokens.Add(new Token(TokenKind.Literal, literal.ToString()));
                literal.Clear();
            }

            if (c == '?')
            {
                tokens.Add(new Token(TokenKind.Question, "?"));
            }
            else if (i + 1 < pattern.Length && pattern[i + 1] == '*')
            {
                tokens.Add(new Token(TokenKind.DoubleStar, "**"));
                i++;
            }
            else
            {
                tokens.Add(new Token(TokenKind.Star, "*"));
            }
        }

        if (literal.Length > 0)
        {
            tokens.Add(new Token(TokenKind.Literal, literal.ToString()));
        }

        return tokens;
    }

    private static Regex ToRegex(List<Token> tokens)
    {
        var regex = new StringBuilder(@"\A");
        foreach (var token in tokens)
        {
            regex.Append(token.Kind switch
            {
                TokenKind.Literal => Regex.Escape(token.Text),
                TokenKind.Star => "[^/]*",
                TokenKind.DoubleStar => ".*",
                _ => "[^/]",
            });
        }

        regex.Append(@"\z");

        // Singleline: '**' must also cross line breaks; values are validated elsewhere, the matcher need not trust that.
        return new Regex(regex.ToString(), RegexOptions.NonBacktracking | RegexOptions.CultureInvariant | RegexOptions.Singleline);
    }

    private static string Printable(string text) =>
        string.Concat(text.Select(c => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString()));

    private enum TokenKind
    {
        Literal,
        Star,
        DoubleStar,
        Question,
    }

    private readonly record struct Token(TokenKind Kind, string Text);
}
