using System.Security.Claims;
using Microsoft.AspNetCore.Http;

namespace JitBroker.ToolGuard;

/// <summary>What ToolGuard learned about one request: the presented token, why it was refused, for challenges and use reports.</summary>
internal sealed class ToolGuardRequestState
{
    private static readonly object Key = new();

    public string? Token { get; set; }

    /// <summary>"Bearer" or "DPoP": the Authorization scheme the token came with.</summary>
    public string? Scheme { get; set; }

    public string? Jti { get; set; }

    public string? Reason { get; set; }

    public string? Description { get; set; }

    /// <summary>The OAuth error for the challenge (invalid_token or invalid_dpop_proof).</summary>
    public string Error { get; set; } = "invalid_token";

    /// <summary>True when the refusal concerns DPoP, so the challenge names the DPoP scheme.</summary>
    public bool DpopProblem { get; set; }

    /// <summary>Set once a use was reported, so one request is reported once.</summary>
    public bool Reported { get; set; }

    public void Refuse(string reason, string description, bool dpop = false, string error = "invalid_token")
    {
        Reason = reason;
        Description = description;
        DpopProblem = dpop;
        Error = error;
    }

    public static ToolGuardRequestState Of(HttpContext context)
    {
        if (context.Items.TryGetValue(Key, out var existing) && existing is ToolGuardRequestState state)
        {
            return state;
        }

        state = new ToolGuardRequestState();
        context.Items[Key] = state;
        return state;
    }
}

/// <summary>The token's grant as the broker wrote it: <c>tools</c>, <c>action</c>, <c>resources</c>.</summary>
public static class ToolGuardClaims
{
    public static IReadOnlyList<string> Tools(ClaimsPrincipal user) => Values(user, "tools");

    public static string? Action(ClaimsPrincipal user) => user.FindFirst("action")?.Value;

    public static IReadOnlyList<string> Resources(ClaimsPrincipal user) => Values(user, "resources");

    public static bool HasTool(ClaimsPrincipal user, string tool) => Tools(user).Contains(tool, StringComparer.Ordinal);

    public static bool HasResource(ClaimsPrincipal user, string resource) => Resources(user).Any(pattern => ToolGuardGlob.IsMatch(pattern, resource));

    // JsonWebTokenHandler turns a JSON array claim into one claim per element; only our scheme's identity counts.
    private static string[] Values(ClaimsPrincipal user, string type) =>
        [.. user.Identities.Where(i => i.AuthenticationType == ToolGuardDefaults.AuthenticationScheme)
            .SelectMany(i => i.FindAll(type)).Select(c => c.Value)];
}

public static class ToolGuardDefaults
{
    /// <summary>The authentication scheme ToolGuard registers (a JwtBearer scheme with its own events).</summary>
    public const string AuthenticationScheme = "JitBroker";

    public const string MetadataPath = "/.well-known/oauth-protected-resource";
}
