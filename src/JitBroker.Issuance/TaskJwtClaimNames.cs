using System.Text.Json;

namespace JitBroker.Issuance;

/// <summary>
/// Claim names of a task JWT. Registered claims (RFC 7519 §4.1, RFC 9068 §2.2, RFC 8693 §4.2 for
/// <c>client_id</c> and <c>scope</c>, RFC 8705 §3.1 for <c>cnf</c>/<c>x5t#S256</c>, RFC 9449 §6.1 for <c>cnf</c>/<c>jkt</c>) plus the broker's own
/// <c>task_id</c>, <c>action</c>, <c>tools</c> and <c>resources</c>.
/// </summary>
public static class TaskJwtClaimNames
{
    public const string Issuer = "iss";
    public const string Subject = "sub";
    public const string Audience = "aud";
    public const string IssuedAt = "iat";
    public const string NotBefore = "nbf";
    public const string Expires = "exp";
    public const string JwtId = "jti";
    public const string ClientId = "client_id";
    public const string TaskId = "task_id";

    /// <summary>RFC 9068 §2.2.3 space-separated scopes: the action, then <c>tool:&lt;name&gt;</c> per tool.</summary>
    public const string Scope = "scope";

    /// <summary>The declared action, as a plain string.</summary>
    public const string Action = "action";

    /// <summary>Granted tools, a JSON array of strings.</summary>
    public const string Tools = "tools";

    /// <summary>Granted resources, a JSON array of strings (not in <c>scope</c>: resources may contain spaces).</summary>
    public const string Resources = "resources";

    /// <summary>Confirmation (sender binding, RFC 7800): present only for a credential bound to a DPoP key and/or a client certificate.</summary>
    public const string Confirmation = "cnf";

    /// <summary>Member of <c>cnf</c>: base64url SHA-256 JWK thumbprint (RFC 7638) of the DPoP proof key (RFC 9449 §6.1).</summary>
    public const string ProofKeyThumbprint = "jkt";

    /// <summary>Member of <c>cnf</c>: base64url SHA-256 of the client certificate (RFC 8705 §3.1).</summary>
    public const string CertificateThumbprint = "x5t#S256";

    /// <summary>RFC 8693 §4.1 actor of a delegated credential; nested for earlier actors, current actor outermost.</summary>
    public const string Actor = "act";

    /// <summary>Prefix of a tool entry in <c>scope</c>.</summary>
    public const string ToolScopePrefix = "tool:";

    internal static readonly JsonEncodedText IssuerName = JsonEncodedText.Encode(Issuer);
    internal static readonly JsonEncodedText SubjectName = JsonEncodedText.Encode(Subject);
    internal static readonly JsonEncodedText AudienceName = JsonEncodedText.Encode(Audience);
    internal static readonly JsonEncodedText IssuedAtName = JsonEncodedText.Encode(IssuedAt);
    internal static readonly JsonEncodedText NotBeforeName = JsonEncodedText.Encode(NotBefore);
    internal static readonly JsonEncodedText ExpiresName = JsonEncodedText.Encode(Expires);
    internal static readonly JsonEncodedText JwtIdName = JsonEncodedText.Encode(JwtId);
    internal static readonly JsonEncodedText ClientIdName = JsonEncodedText.Encode(ClientId);
    internal static readonly JsonEncodedText TaskIdName = JsonEncodedText.Encode(TaskId);
    internal static readonly JsonEncodedText ScopeName = JsonEncodedText.Encode(Scope);
    internal static readonly JsonEncodedText ActionName = JsonEncodedText.Encode(Action);
    internal static readonly JsonEncodedText ToolsName = JsonEncodedText.Encode(Tools);
    internal static readonly JsonEncodedText ResourcesName = JsonEncodedText.Encode(Resources);
    internal static readonly JsonEncodedText ConfirmationName = JsonEncodedText.Encode(Confirmation);
    internal static readonly JsonEncodedText ActorName = JsonEncodedText.Encode(Actor);
    internal static readonly JsonEncodedText CertificateThumbprintName = JsonEncodedText.Encode(CertificateThumbprint);
    internal static readonly JsonEncodedText ProofKeyThumbprintName = JsonEncodedText.Encode(ProofKeyThumbprint);
}
