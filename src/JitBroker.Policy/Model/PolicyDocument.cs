namespace JitBroker.Policy.Model;

// The document model mirrors the YAML one to one, already validated and with globs compiled. It is kept
// separate from the evaluation form (Evaluation/CompiledRule) so that later versions — several files,
// conditions, approvals — can add fields here without touching how a decision is computed.

/// <summary>One validated policy document.</summary>
internal sealed record PolicyDocument(string SourceName, int Version, PolicyDefaults Defaults, IReadOnlyList<PolicyRule> Rules)
{
    /// <summary>The only document version this build reads.</summary>
    public const int SupportedVersion = 1;
}

/// <summary>Document-wide limits that every rule inherits.</summary>
internal sealed record PolicyDefaults(TimeSpan? MaxTtl);

internal enum RuleEffect
{
    Allow,
    Deny,
}

/// <summary>
/// One rule. Deny rules carry no <see cref="Credential"/>, <see cref="Tools"/> or <see cref="Resources"/>
/// (they match on principals and actions only); allow rules carry no <see cref="Reason"/>.
/// </summary>
internal sealed record PolicyRule(
    string Id,
    string? Description,
    RuleEffect Effect,
    PrincipalSelector Principals,
    IReadOnlyList<GlobPattern> Actions,
    IReadOnlyList<GlobPattern> Tools,
    IReadOnlyList<GlobPattern> Resources,
    CredentialTemplate? Credential,
    string? Reason,
    SourcePosition Position);

/// <summary>Who a rule is about. Today SPIFFE IDs only; other selectors (OIDC subjects, facts) are later keys.</summary>
internal sealed record PrincipalSelector(IReadOnlyList<SpiffeIdPattern> SpiffeIds);

/// <summary>What an allow rule may mint: issuer kind, the exact audiences, and an optional TTL ceiling.</summary>
internal sealed record CredentialTemplate(string Kind, IReadOnlyList<string> Audiences, TimeSpan? MaxTtl)
{
    public const string DefaultKind = "jwt";
}

/// <summary>1-based line and column of a node in its source, kept for explanations.</summary>
internal readonly record struct SourcePosition(int Line, int Column);
