namespace JitBroker.OAuth;

/// <summary>
/// The <c>scope</c> parameter read as a task intent: RFC 6749 §3.3 scope-tokens (%x21 / %x23-5B / %x5D-7E) separated
/// by single spaces; <c>tool:&lt;name&gt;</c> tokens are tools, any other token is the action (at most one).
/// <see cref="Tools"/> is null when no tool token was sent, so "not stated" differs from "stated empty".
/// </summary>
internal sealed record ScopeTokens(string? Action, IReadOnlyList<string>? Tools)
{
    public const string ToolPrefix = "tool:";

    public static ScopeTokens Parse(string? scope)
    {
        if (scope is null)
        {
            return new ScopeTokens(null, null);
        }

        string? action = null;
        List<string>? tools = null;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var token in scope.Split(' '))
        {
            // An empty token is a leading, trailing or doubled space: the grammar allows exactly one SP between tokens.
            if (token.Length == 0 || !token.All(IsScopeChar))
            {
                throw Refuse(OAuthReasons.ScopeInvalid, "scope must be scope-tokens separated by single spaces (RFC 6749 section 3.3)");
            }

            if (!seen.Add(token))
            {
                throw Refuse(OAuthReasons.ScopeDuplicateToken, "scope repeats a token");
            }

            if (token.StartsWith(ToolPrefix, StringComparison.Ordinal))
            {
                if (token.Length == ToolPrefix.Length)
                {
                    throw Refuse(OAuthReasons.ScopeInvalid, "a tool: scope token names no tool");
                }

                (tools ??= []).Add(token[ToolPrefix.Length..]);
            }
            else if (action is null)
            {
                action = token;
            }
            else
            {
                throw Refuse(OAuthReasons.ScopeMultipleActions, "scope declares more than one action");
            }
        }

        return new ScopeTokens(action, tools);
    }

    private static bool IsScopeChar(char c) => c is '\x21' or (>= '\x23' and <= '\x5B') or (>= '\x5D' and <= '\x7E');

    private static OAuthProtocolException Refuse(string reason, string description) => new(OAuthErrors.InvalidScope, reason, description);
}
