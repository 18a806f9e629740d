namespace JitBroker.OAuth;

/// <summary>
/// Reads the declared task intent from a token request's parameters: <c>resource</c> (RFC 8707) is the audience,
/// <c>scope</c> (RFC 6749 §3.3) carries the action and <c>tool:</c> tokens, <c>authorization_details</c> (RFC 9396)
/// one <see cref="AuthorizationDetailsType"/> object with the rest. Where scope and authorization_details both state
/// the action, or both state tools, they must agree; a side that is silent takes the other's.
/// </summary>
public static class TaskIntentParameters
{
    public const string AuthorizationDetailsType = "jitbroker_task";

    /// <summary>The declared task; throws <see cref="OAuthProtocolException"/> (invalid_scope, invalid_target,
    /// invalid_authorization_details or invalid_request) with a stable reason.</summary>
    public static DeclaredTask Parse(OAuthForm form)
    {
        var scope = ScopeTokens.Parse(form["scope"]);
        var details = form["authorization_details"] is { } raw ? TaskAuthorizationDetails.Parse(raw) : null;
        var audience = Audience(form.All("resource"), details?.Locations);

        if (scope.Action is not null && details?.Action is not null && scope.Action != details.Action)
        {
            throw Mismatch("scope and authorization_details declare different actions");
        }

        if (scope.Tools is not null && details?.Tools is not null && !scope.Tools.ToHashSet(StringComparer.Ordinal).SetEquals(details.Tools))
        {
            throw Mismatch("scope and authorization_details declare different tools");
        }

        var action = scope.Action ?? details?.Action
            ?? throw new OAuthProtocolException(OAuthErrors.InvalidScope, OAuthReasons.ActionMissing, "no action: send it as a scope token or in authorization_details");
        return new DeclaredTask(
            details?.TaskId,
            action,
            details?.Purpose,
            scope.Tools ?? details?.Tools ?? [],
            details?.Resources ?? [],
            details?.Context ?? new Dictionary<string, string>(StringComparer.Ordinal),
            audience,
            details?.Ttl);
    }

    private static string Audience(IReadOnlyList<string> resources, IReadOnlyList<string>? locations)
    {
        if (resources.Count > 1)
        {
            throw Target(OAuthReasons.ResourceMultiple, "one resource per token: the token's aud is one string");
        }

        if (resources.Count == 1)
        {
            var resource = resources[0];
            if (!ResourceUri.IsValid(resource))
            {
                throw Target(OAuthReasons.ResourceInvalid, "resource must be an absolute URI without a fragment (RFC 8707 section 2)");
            }

            if (locations is not null && !locations.Contains(resource, StringComparer.Ordinal))
            {
                throw new OAuthProtocolException(OAuthErrors.InvalidAuthorizationDetails, OAuthReasons.DetailsLocationMismatch,
                    "authorization_details locations does not contain the resource");
            }

            return resource;
        }

        // Locations were checked to be absolute URIs when authorization_details was parsed.
        return locations is [var only]
            ? only
            : throw Target(OAuthReasons.ResourceMissing, "send one resource, or authorization_details with exactly one location");
    }

    private static OAuthProtocolException Target(string reason, string description) => new(OAuthErrors.InvalidTarget, reason, description);

    private static OAuthProtocolException Mismatch(string description) =>
        new(OAuthErrors.InvalidScope, OAuthReasons.ScopeDetailsMismatch, description);
}
