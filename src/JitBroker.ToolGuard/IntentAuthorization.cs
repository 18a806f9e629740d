using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace JitBroker.ToolGuard;

/// <summary>What an endpoint needs the token to grant: a tool, an action, or a resource (a template with route values).</summary>
public sealed class IntentRequirement : IAuthorizationRequirement
{
    private IntentRequirement(IntentKind kind, string value)
    {
        Kind = kind;
        Value = value;
    }

    public IntentKind Kind { get; }

    /// <summary>The tool name, the action, or the resource template (<c>tickets/{id}</c>).</summary>
    public string Value { get; }

    /// <summary>The scope a client would ask for to satisfy this (RFC 6750 §3.1 <c>scope</c>); none for a resource.</summary>
    public string Scope => Kind switch
    {
        IntentKind.Tool => "tool:" + Value,
        IntentKind.Action => Value,
        _ => "",
    };

    public static IntentRequirement Tool(string name) => new(IntentKind.Tool, NotBlank(name));

    public static IntentRequirement Action(string action) => new(IntentKind.Action, NotBlank(action));

    public static IntentRequirement Resource(string template) => new(IntentKind.Resource, NotBlank(template));

    /// <summary>The template with <c>{name}</c> replaced by the route value of that name; null when one is missing.</summary>
    public static string? Substitute(string template, HttpContext http)
    {
        var result = new System.Text.StringBuilder();
        for (var i = 0; i < template.Length; i++)
        {
            if (template[i] != '{')
            {
                result.Append(template[i]);
                continue;
            }

            var end = template.IndexOf('}', i);
            if (end < 0)
            {
                return null;
            }

            if (http.GetRouteValue(template[(i + 1)..end]) is not { } value || Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) is not { Length: > 0 } text)
            {
                return null;
            }

            result.Append(text);
            i = end;
        }

        return result.ToString();
    }

    private static string NotBlank(string value) =>
        string.IsNullOrWhiteSpace(value) ? throw new ArgumentException("an intent requirement needs a value", nameof(value)) : value;
}

public enum IntentKind
{
    Tool,
    Action,
    Resource,
}

/// <summary>Checks <see cref="IntentRequirement"/>s against the token's <c>tools</c>, <c>action</c> and <c>resources</c>.</summary>
internal sealed class IntentAuthorizationHandler : AuthorizationHandler<IntentRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, IntentRequirement requirement)
    {
        var user = context.User;
        var granted = requirement.Kind switch
        {
            IntentKind.Tool => ToolGuardClaims.HasTool(user, requirement.Value),
            IntentKind.Action => ToolGuardClaims.Action(user) == requirement.Value,
            _ => context.Resource is HttpContext http && IntentRequirement.Substitute(requirement.Value, http) is { } resource
                && ToolGuardClaims.HasResource(user, resource),
        };
        if (granted)
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }
}

/// <summary>Intent requirements on endpoints and policies.</summary>
public static class IntentAuthorizationExtensions
{
    public static AuthorizationPolicyBuilder RequireTool(this AuthorizationPolicyBuilder policy, string name) => Add(policy, IntentRequirement.Tool(name));

    public static AuthorizationPolicyBuilder RequireAction(this AuthorizationPolicyBuilder policy, string action) => Add(policy, IntentRequirement.Action(action));

    /// <summary>The substituted template must match one of the token's <c>resources</c> globs (docs/policy.md "Globs").</summary>
    public static AuthorizationPolicyBuilder RequireResource(this AuthorizationPolicyBuilder policy, string template) =>
        Add(policy, IntentRequirement.Resource(template));

    public static TBuilder RequireTool<TBuilder>(this TBuilder endpoint, string name) where TBuilder : IEndpointConventionBuilder =>
        endpoint.RequireAuthorization(p => p.RequireTool(name));

    public static TBuilder RequireAction<TBuilder>(this TBuilder endpoint, string action) where TBuilder : IEndpointConventionBuilder =>
        endpoint.RequireAuthorization(p => p.RequireAction(action));

    public static TBuilder RequireResource<TBuilder>(this TBuilder endpoint, string template) where TBuilder : IEndpointConventionBuilder =>
        endpoint.RequireAuthorization(p => p.RequireResource(template));

    /// <summary>A token from the broker, nothing more (for endpoints that check intent themselves, such as MCP).</summary>
    public static TBuilder RequireJitBrokerToken<TBuilder>(this TBuilder endpoint) where TBuilder : IEndpointConventionBuilder =>
        endpoint.RequireAuthorization(p => p.AddAuthenticationSchemes(ToolGuardDefaults.AuthenticationScheme).RequireAuthenticatedUser());

    private static AuthorizationPolicyBuilder Add(AuthorizationPolicyBuilder policy, IntentRequirement requirement) =>
        policy.AddAuthenticationSchemes(ToolGuardDefaults.AuthenticationScheme).RequireAuthenticatedUser().AddRequirements(requirement);
}
