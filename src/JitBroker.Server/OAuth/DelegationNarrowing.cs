using JitBroker.OAuth;

namespace JitBroker.Server.OAuth;

/// <summary>
/// What a delegating token exchange asks for (RFC 8693 §2.1): everything is optional and can only narrow the parent —
/// <c>scope</c>'s <c>tool:</c> tokens (a plain token must be the parent's action, checked by the narrowing itself),
/// <c>resource</c> (must be the parent's audience), or a full <c>jitbroker_task</c> <c>authorization_details</c>.
/// </summary>
internal sealed record DelegationNarrowing(IReadOnlyList<string>? Tools, IReadOnlyList<string>? Resources, TimeSpan? Ttl, string? Audience,
    bool HadAuthorizationDetails, string? Action = null)
{
    public static DelegationNarrowing Parse(OAuthForm form)
    {
        if (form["authorization_details"] is not null)
        {
            var declared = TaskIntentParameters.Parse(form);
            return new DelegationNarrowing(declared.Tools, declared.Resources, declared.RequestedTtl, declared.Audience, true, declared.Action);
        }

        var resources = form.All("resource");
        if (resources.Count > 1)
        {
            throw new OAuthProtocolException(OAuthErrors.InvalidTarget, OAuthReasons.ResourceMultiple, "One resource per token: the token's aud is one string.");
        }

        List<string>? tools = null;
        string? action = null;
        if (form["scope"] is { } scope)
        {
            tools = [];
            foreach (var token in scope.Split(' '))
            {
                if (token.StartsWith("tool:", StringComparison.Ordinal) && token.Length > "tool:".Length)
                {
                    tools.Add(token["tool:".Length..]);
                }
                else if (token.Length > 0 && action is null && !token.Contains(':', StringComparison.Ordinal))
                {
                    action = token; // RFC 8693 §2.1: the scope of the token asked for, which names the action — the parent's, checked there
                }
                else
                {
                    throw new OAuthProtocolException(OAuthErrors.InvalidScope, OAuthReasons.ScopeInvalid,
                        "A delegation's scope is the parent's action and tool:<name> tokens, each once.");
                }
            }
        }

        return new DelegationNarrowing(tools, null, null, resources.Count == 1 ? resources[0] : null, false, action);
    }
}
