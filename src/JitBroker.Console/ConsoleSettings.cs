using JitBroker.Core;

namespace JitBroker.WebConsole;

/// <summary>
/// <c>JitBroker:Console</c>: the web console (docs/console.md). Off unless configured: <see cref="Enabled"/> defaults to
/// false in every profile, and turning it on requires an OIDC provider, a public base URL and at least one role member.
/// </summary>
public sealed class ConsoleSettings
{
    public bool Enabled { get; set; }

    /// <summary>The URL people reach the broker's console listener at (no path), e.g. <c>https://broker.corp.example:8443</c>; deep links and the OIDC redirect URI are built from it.</summary>
    public string PublicBaseUrl { get; set; } = "";

    public ConsoleOidcSettings Oidc { get; set; } = new();

    /// <summary>Approving needs a sign-in at most this old (OIDC <c>auth_time</c>); older sessions re-authenticate with <c>max_age</c>.</summary>
    public TimeSpan ApproveMaxAge { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>A console session ends this long after sign-in (absolute: no sliding renewal).</summary>
    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Who may see and decide approvals (still only those the rule's approver globs name).</summary>
    public List<ConsoleRoleMember> Approvers { get; set; } = [];

    /// <summary>Who may see and act on operations pages (leases, blocks, agents, tasks).</summary>
    public List<ConsoleRoleMember> Operators { get; set; } = [];

    /// <summary>The ID token / userinfo claim that carries the person's groups.</summary>
    public string GroupClaim { get; set; } = "groups";

    /// <summary>Start-up checks; <paramref name="embedded"/> allows cleartext loopback (authority, base URL).</summary>
    public IEnumerable<string> Validate(bool embedded)
    {
        if (!Enabled)
        {
            yield break;
        }

        foreach (var error in ValidateBaseUrl(embedded).Concat(Oidc.Validate(embedded)))
        {
            yield return error;
        }

        if (ApproveMaxAge < TimeSpan.FromSeconds(30) || ApproveMaxAge > TimeSpan.FromHours(1))
        {
            yield return "Console:ApproveMaxAge must be between 00:00:30 and 01:00:00.";
        }

        if (SessionLifetime < TimeSpan.FromMinutes(1) || SessionLifetime > TimeSpan.FromHours(12))
        {
            yield return "Console:SessionLifetime must be between 00:01:00 and 12:00:00.";
        }

        if (string.IsNullOrWhiteSpace(GroupClaim))
        {
            yield return "Console:GroupClaim must name a claim.";
        }

        if (Approvers.Count + Operators.Count == 0)
        {
            yield return "Console:Approvers or Console:Operators must name at least one member when Console:Enabled is true (nobody else gets anything).";
        }

        foreach (var error in ValidateMembers("Approvers", Approvers).Concat(ValidateMembers("Operators", Operators)))
        {
            yield return error;
        }
    }

    private IEnumerable<string> ValidateBaseUrl(bool embedded)
    {
        if (!Uri.TryCreate(PublicBaseUrl, UriKind.Absolute, out var url) || url.Query.Length > 0 || url.Fragment.Length > 0 ||
            url.AbsolutePath != "/" || url.UserInfo.Length > 0)
        {
            yield return "Console:PublicBaseUrl must be an absolute http(s) URL without path, query or fragment (e.g. https://broker.corp.example:8443).";
        }
        else if (!LoopbackOrHttps(url, embedded))
        {
            yield return "Console:PublicBaseUrl must use https (http only on a loopback host in the embedded profile).";
        }
    }

    private static IEnumerable<string> ValidateMembers(string name, List<ConsoleRoleMember> members)
    {
        for (var i = 0; i < members.Count; i++)
        {
            var m = members[i];
            var hasSubject = !string.IsNullOrWhiteSpace(m.Subject);
            var hasGroup = !string.IsNullOrWhiteSpace(m.Group);
            if (hasSubject == hasGroup)
            {
                yield return $"Console:{name}:{i} must set exactly one of Subject (a principal glob) or Group (a group claim value).";
            }
            else if (hasSubject && (!GlobPattern.TryParse(m.Subject, out _, out var problem) || (problem = GlobPattern.AnchorProblem(m.Subject!)) is not null))
            {
                yield return $"Console:{name}:{i}:Subject: {problem}";
            }
        }
    }

    /// <summary>https, or http on a loopback host in the embedded profile (tests, a laptop).</summary>
    internal static bool LoopbackOrHttps(Uri url, bool embedded) =>
        url.Scheme == Uri.UriSchemeHttps || (embedded && url.Scheme == Uri.UriSchemeHttp && url.IsLoopback);
}

/// <summary>One role member: a person principal glob (<c>https://login.corp.example#*</c>) or a group claim value.</summary>
public sealed class ConsoleRoleMember
{
    public string? Subject { get; set; }

    public string? Group { get; set; }
}

/// <summary><c>JitBroker:Console:Oidc</c>: the organisation's OpenID provider.</summary>
public sealed class ConsoleOidcSettings
{
    /// <summary>The issuer URL; discovery is read from <c>{Authority}/.well-known/openid-configuration</c>.</summary>
    public string Authority { get; set; } = "";

    public string ClientId { get; set; } = "";

    /// <summary>A file holding the client secret (a confidential client); unset: a public client with PKCE only.</summary>
    public string? ClientSecretFile { get; set; }

    /// <summary>Scopes besides <c>openid</c>.</summary>
    public List<string> Scopes { get; set; } = ["profile", "email"];

    /// <summary>False only for a loopback authority in the embedded profile (tests).</summary>
    public bool RequireHttpsMetadata { get; set; } = true;

    public IEnumerable<string> Validate(bool embedded)
    {
        if (!Uri.TryCreate(Authority, UriKind.Absolute, out var authority) || authority.Query.Length > 0 || authority.Fragment.Length > 0)
        {
            yield return "Console:Oidc:Authority must be the OpenID provider's issuer URL.";
        }
        else if (authority.Scheme != Uri.UriSchemeHttps && (RequireHttpsMetadata || !ConsoleSettings.LoopbackOrHttps(authority, embedded)))
        {
            yield return "Console:Oidc:Authority must use https (http only with RequireHttpsMetadata false, a loopback authority and the embedded profile).";
        }

        if (!RequireHttpsMetadata && !embedded)
        {
            yield return "Console:Oidc:RequireHttpsMetadata may be false only in the embedded profile.";
        }

        if (string.IsNullOrWhiteSpace(ClientId))
        {
            yield return "Console:Oidc:ClientId is required.";
        }

        if (ClientSecretFile is { } file && !File.Exists(file))
        {
            yield return $"Console:Oidc:ClientSecretFile '{file}' does not exist.";
        }

        foreach (var scope in Scopes.Where(s => string.IsNullOrWhiteSpace(s) || s.Any(c => c <= ' ' || c == '"' || c == '\\' || c > '~')))
        {
            yield return $"Console:Oidc:Scopes: '{scope}' is not a valid scope token.";
        }
    }
}
