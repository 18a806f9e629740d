using System.Security.Claims;
using JitBroker.Core;

namespace JitBroker.WebConsole;

/// <summary>Claim types the console keeps in its session cookie (and nothing else from the ID token).</summary>
public static class ConsoleClaims
{
    /// <summary>The person principal: <c>{iss}#{sub}</c>, the same form the OIDC attestor gives a token of that provider.</summary>
    public const string Principal = "jitbroker:principal";

    /// <summary>A display name (e-mail or name); never used to authorise anything but the owner check.</summary>
    public const string Display = "jitbroker:display";

    /// <summary>The verified e-mail address, when the provider asserts <c>email_verified</c>.</summary>
    public const string Email = "jitbroker:email";

    /// <summary>When the person last authenticated at the provider (OIDC <c>auth_time</c>, Unix seconds).</summary>
    public const string AuthTime = "jitbroker:auth_time";

    public const string Role = "jitbroker:role";
}

public static class ConsoleRoles
{
    public const string Approver = "approver";
    public const string Operator = "operator";
}

/// <summary>
/// Who a signed-in person is to the broker. The principal is <c>{iss}#{sub}</c> — issuer plus the provider's stable,
/// never-reassigned subject — exactly the id <c>OidcAttestor</c> gives an ID token of the same provider, so one approver
/// glob (<c>https://login.corp.example#*</c>) names the same person on the console and through jitctl. E-mail addresses
/// are shown, and compared with a rule's owner, but never form the principal: they can be reassigned.
/// </summary>
public sealed record ConsolePerson(string Principal, string Display, string? Email, DateTimeOffset? AuthTime, IReadOnlyList<string> Roles)
{
    public bool IsApprover => Roles.Contains(ConsoleRoles.Approver);

    public bool IsOperator => Roles.Contains(ConsoleRoles.Operator);

    public static string PrincipalOf(string issuer, string subject) => issuer + "#" + subject;

    /// <summary>Reads the person from the console's session cookie principal; null when not signed in.</summary>
    public static ConsolePerson? From(ClaimsPrincipal user)
    {
        var principal = user.FindFirstValue(ConsoleClaims.Principal);
        if (principal is null)
        {
            return null;
        }

        var authTime = long.TryParse(user.FindFirstValue(ConsoleClaims.AuthTime), out var seconds)
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : (DateTimeOffset?)null;
        return new ConsolePerson(principal, user.FindFirstValue(ConsoleClaims.Display) ?? principal, user.FindFirstValue(ConsoleClaims.Email),
            authTime, [.. user.FindAll(ConsoleClaims.Role).Select(c => c.Value)]);
    }

    /// <summary>
    /// The identity a decision is taken and audited under. Method <c>console</c> tells the audit trail a person decided
    /// in a browser; the verified e-mail rides along as a fact so the owner check can compare it.
    /// </summary>
    public WorkloadIdentity ToIdentity() => new()
    {
        Id = Principal,
        TrustDomain = Principal.LastIndexOf('#') is > 0 and var at ? Principal[..at] : Principal,
        Method = "console",
        Facts = Email is null ? new Dictionary<string, string>() : new Dictionary<string, string> { ["email"] = Email },
        EvidenceFingerprint = "console-session",
    };
}

/// <summary>Roles from configuration: a person is an approver/operator when a member entry matches their principal or one of their groups.</summary>
public sealed class ConsoleRoleMatcher
{
    private readonly (GlobPattern? Subject, string? Group)[] _approvers;
    private readonly (GlobPattern? Subject, string? Group)[] _operators;

    public ConsoleRoleMatcher(ConsoleSettings settings)
    {
        _approvers = Compile(settings.Approvers);
        _operators = Compile(settings.Operators);
    }

    public IReadOnlyList<string> RolesOf(string principal, IReadOnlyCollection<string> groups)
    {
        var roles = new List<string>(2);
        if (Matches(_approvers, principal, groups))
        {
            roles.Add(ConsoleRoles.Approver);
        }

        if (Matches(_operators, principal, groups))
        {
            roles.Add(ConsoleRoles.Operator);
        }

        return roles;
    }

    private static bool Matches((GlobPattern? Subject, string? Group)[] members, string principal, IReadOnlyCollection<string> groups) =>
        members.Any(m => m.Subject?.IsMatch(principal) == true || (m.Group is { } g && groups.Contains(g, StringComparer.Ordinal)));

    private static (GlobPattern?, string?)[] Compile(List<ConsoleRoleMember> members) =>
        [.. members.Select(m => (string.IsNullOrWhiteSpace(m.Subject) ? null : GlobPattern.Parse(m.Subject), string.IsNullOrWhiteSpace(m.Group) ? null : m.Group))];
}
