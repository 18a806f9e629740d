using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.RegularExpressions;

namespace JitBroker.Core;

/// <summary>
/// The one pattern language of the broker: policy selectors, actions, tools, resources, <c>StringLike</c>,
/// approver lists, admin principals, kill-switch blocks, revocation by agent pattern and OIDC subject patterns
/// all compile through here, so a pattern means the same wherever it is written (docs/policy.md, "Globs").
/// <list type="bullet">
/// <item><c>*</c> matches any run of characters, possibly empty, that contains no separator (<c>/</c> or <c>:</c>);</item>
/// <item><c>**</c> matches any run of characters, possibly empty, separators included;</item>
/// <item><c>?</c> matches exactly one character (UTF-16 code unit) that is not a separator;</item>
/// <item>every other character matches itself, ordinal and case-sensitive. There are no escapes,
/// character classes, braces or negations: <c>[</c>, <c>\</c>, <c>{</c>, <c>.</c> and friends are literal.</item>
/// </list>
/// Both <c>/</c> and <c>:</c> are separators because identities use both for hierarchy (SPIFFE paths,
/// <c>system:serviceaccount:ns:name</c>, <c>repo:org/name:ref:…</c>): a single <c>*</c> never reaches into a
/// sibling namespace, repository or ref; crossing one takes a deliberate <c>**</c>.
/// A pattern always matches the whole value. Invalid patterns (empty, longer than <see cref="MaxLength"/>,
/// three or more consecutive <c>*</c>, control characters, leading or trailing white space) are refused by
/// <see cref="TryParse"/> so that a typo fails loudly rather than silently matching something else.
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

    private static readonly SearchValues<char> Separators = SearchValues.Create("/:");

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

    /// <summary>The pattern text exactly as written.</summary>
    public string Pattern { get; }

    /// <summary>True when the pattern has no wildcard and therefore matches exactly one value.</summary>
    public bool IsLiteral => _shape == Shape.Literal;

    /// <summary>True when <paramref name="pattern"/> contains a wildcard character (it need not be valid).</summary>
    public static bool HasWildcard(string pattern) => pattern.AsSpan().IndexOfAny('*', '?') >= 0;

    /// <summary>Compiles <paramref name="pattern"/>; throws <see cref="FormatException"/> saying what is wrong.</summary>
    public static GlobPattern Parse(string pattern) =>
        TryParse(pattern, out var glob, out var error) ? glob : throw new FormatException(error);

    /// <summary>Compiles <paramref name="pattern"/>, or returns false with a one-line explanation.</summary>
    public static bool TryParse(string? pattern, [NotNullWhen(true)] out GlobPattern? glob, [NotNullWhen(false)] out string? error)
    {
        glob = null;
        error = Validate(pattern);
        if (error is not null)
        {
            return false;
        }

        var tokens = Tokenize(pattern!);
        glob = tokens switch
        {
            [{ Kind: TokenKind.Literal } only] => new GlobPattern(pattern!, Shape.Literal, only.Text, null),
            [{ Kind: TokenKind.Star }] => new GlobPattern(pattern!, Shape.PrefixThenSegment, string.Empty, null),
            [{ Kind: TokenKind.DoubleStar }] => new GlobPattern(pattern!, Shape.PrefixThenAnything, string.Empty, null),
            [{ Kind: TokenKind.Literal } head, { Kind: TokenKind.Star }] => new GlobPattern(pattern!, Shape.PrefixThenSegment, head.Text, null),
            [{ Kind: TokenKind.Literal } head, { Kind: TokenKind.DoubleStar }] => new GlobPattern(pattern!, Shape.PrefixThenAnything, head.Text, null),
            [{ Kind: TokenKind.Star }, { Kind: TokenKind.Literal } tail] => new GlobPattern(pattern!, Shape.SegmentThenSuffix, tail.Text, null),
            [{ Kind: TokenKind.DoubleStar }, { Kind: TokenKind.Literal } tail] => new GlobPattern(pattern!, Shape.AnythingThenSuffix, tail.Text, null),
            _ => new GlobPattern(pattern!, Shape.General, string.Empty, ToRegex(tokens)),
        };
        return true;
    }

    /// <summary>
    /// For patterns over URL-shaped principals (OIDC issuers, approvers, admin principals): null when the
    /// pattern begins with a literal <c>scheme://authority</c> and has wildcards only after the first <c>/</c>
    /// or <c>#</c> that follows it, else why not. <c>https://*.example/…</c> would also match a lookalike host,
    /// and <c>**</c> would make every caller, agents included, match.
    /// </summary>
    public static string? AnchorProblem(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        var wildcard = pattern.AsSpan().IndexOfAny('*', '?');
        var literal = wildcard < 0 ? pattern : pattern[..wildcard];
        var scheme = literal.IndexOf("://", StringComparison.Ordinal);
        var authorityAndRest = scheme > 0 ? literal[(scheme + 3)..] : string.Empty;
        var separator = authorityAndRest.AsSpan().IndexOfAny('/', '#');
        var anchored = scheme > 0 && IsUriScheme(literal.AsSpan(0, scheme)) && (wildcard < 0 ? authorityAndRest.Length > 0 : separator > 0);
        return anchored
            ? null
            : $"'{pattern}' must begin with a literal scheme://authority (wildcards only after the first '/' or '#' that follows it)";
    }

    // RFC 3986 scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ): anything else cannot be the start of an identity URI.
    private static bool IsUriScheme(ReadOnlySpan<char> scheme) =>
        char.IsAsciiLetter(scheme[0]) && !scheme.ContainsAnyExcept(UriSchemeChars);

    private static readonly SearchValues<char> UriSchemeChars =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");

    /// <summary>True when the whole of <paramref name="value"/> matches the pattern.</summary>
    public bool IsMatch(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return _shape switch
        {
            Shape.Literal => string.Equals(value, _literal, StringComparison.Ordinal),
            Shape.PrefixThenAnything => value.StartsWith(_literal, StringComparison.Ordinal),
            Shape.PrefixThenSegment => value.StartsWith(_literal, StringComparison.Ordinal) && value.AsSpan(_literal.Length).IndexOfAny(Separators) < 0,
            Shape.AnythingThenSuffix => value.EndsWith(_literal, StringComparison.Ordinal),
            Shape.SegmentThenSuffix => value.EndsWith(_literal, StringComparison.Ordinal) && value.AsSpan(0, value.Length - _literal.Length).IndexOfAny(Separators) < 0,
            _ => _regex!.IsMatch(value),
        };
    }

    public override string ToString() => Pattern;

    private static string? Validate(string? pattern)
    {
        if (string.IsNullOrEmpty(pattern))
        {
            return "a glob pattern must not be empty";
        }

        if (pattern.Length > MaxLength)
        {
            return $"a glob pattern must be at most {MaxLength} characters";
        }

        if (pattern.AsSpan().ContainsAnyInRange('\0', '\x1f') || pattern.AsSpan().ContainsAnyInRange('\x7f', '\x9f'))
        {
            return $"glob pattern '{Printable(pattern)}' contains a control character";
        }

        if (char.IsWhiteSpace(pattern[0]) || char.IsWhiteSpace(pattern[^1]))
        {
            return $"glob pattern '{pattern}' has leading or trailing white space";
        }

        if (pattern.Contains("***", StringComparison.Ordinal))
        {
            return $"glob pattern '{pattern}' has three or more consecutive '*'; write '*' (one segment) or '**' (any depth)";
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
                TokenKind.Star => "[^/:]*",
                TokenKind.DoubleStar => ".*",
                _ => "[^/:]",
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
