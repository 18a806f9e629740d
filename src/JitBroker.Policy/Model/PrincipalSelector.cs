using JitBroker.Core;

namespace JitBroker.Policy.Model;

/// <summary>
/// Who a rule is about. Every selector present must match (AND); within one selector any entry may match (OR).
/// At least one of <see cref="SpiffeIds"/>, <see cref="TrustDomains"/> or <see cref="Issuers"/> is present (the
/// reader enforces it): those tie the rule to a trust root, the others only narrow it.
/// </summary>
internal sealed class PrincipalSelector
{
    /// <summary>Fact names the attestors produce and the selectors read.</summary>
    public const string SubjectFact = "sub";
    public const string NamespaceFact = "k8s.namespace";
    public const string ServiceAccountFact = "k8s.service_account";

    /// <summary>The only attestation method whose trust domain is an issuer it verified the token against.</summary>
    public const string OidcMethod = "oidc";

    public PrincipalSelector(
        IReadOnlyList<SpiffeIdPattern>? spiffeIds,
        IReadOnlyList<string>? trustDomains,
        IReadOnlyList<string>? methods,
        IReadOnlyList<GlobPattern>? issuers,
        IReadOnlyList<GlobPattern>? subjects,
        IReadOnlyList<GlobPattern>? namespaces,
        IReadOnlyList<GlobPattern>? serviceAccounts)
    {
        SpiffeIds = spiffeIds is null ? null : [.. spiffeIds];
        TrustDomains = trustDomains is null ? null : [.. trustDomains];
        Methods = methods is null ? null : [.. methods];
        Issuers = issuers is null ? null : [.. issuers];
        Subjects = subjects is null ? null : [.. subjects];
        Namespaces = namespaces is null ? null : [.. namespaces];
        ServiceAccounts = serviceAccounts is null ? null : [.. serviceAccounts];
    }

    public SpiffeIdPattern[]? SpiffeIds { get; }

    public string[]? TrustDomains { get; }

    public string[]? Methods { get; }

    public GlobPattern[]? Issuers { get; }

    public GlobPattern[]? Subjects { get; }

    public GlobPattern[]? Namespaces { get; }

    public GlobPattern[]? ServiceAccounts { get; }

    /// <summary>
    /// The trust domains an identity must belong to for this selector to match, for the engine's index; null
    /// when the selector does not pin one (issuers alone are globs over OIDC issuers, which are those identities' trust domains).
    /// </summary>
    public IReadOnlyList<string>? IndexDomains =>
        TrustDomains ?? SpiffeIds?.Select(p => p.TrustDomain).Distinct(StringComparer.Ordinal).ToArray();

    public bool IsMatch(WorkloadIdentity agent) => FirstMismatch(agent) is null;

    /// <summary>The name of the first selector that does not match the agent, or null when all match.</summary>
    public string? FirstMismatch(WorkloadIdentity agent)
    {
        // Cheapest first: exact comparisons, then globs over the id, then globs over facts.
        if (TrustDomains is not null && Array.IndexOf(TrustDomains, agent.TrustDomain) < 0)
        {
            return "trust_domains";
        }

        if (Methods is not null && Array.IndexOf(Methods, agent.Method) < 0)
        {
            return "methods";
        }

        if (SpiffeIds is not null && !MatchesSpiffeId(agent))
        {
            return "spiffe_ids";
        }

        if (Issuers is not null && !MatchesAttestedIssuer(agent))
        {
            return "issuers";
        }

        if (!FactMatches(Subjects, agent, SubjectFact))
        {
            return "subjects";
        }

        if (!FactMatches(Namespaces, agent, NamespaceFact))
        {
            return "namespaces";
        }

        return FactMatches(ServiceAccounts, agent, ServiceAccountFact) ? null : "service_accounts";
    }

    private bool MatchesSpiffeId(WorkloadIdentity agent)
    {
        foreach (var pattern in SpiffeIds!)
        {
            if (pattern.IsMatch(agent.TrustDomain, agent.Id))
            {
                return true;
            }
        }

        return false;
    }

    // An issuer is a trust root only where the OIDC attestor verified the token against it (and made it the
    // identity's trust domain). A JWT-SVID's own 'iss' claim is whatever the SPIRE server of any trusted - e.g.
    // federated - trust domain chose to write, so it never satisfies an issuers selector.
    private bool MatchesAttestedIssuer(WorkloadIdentity agent) =>
        string.Equals(agent.Method, OidcMethod, StringComparison.Ordinal) && AnyMatch(Issuers!, agent.TrustDomain);

    // A selector on a fact the identity does not carry never matches: absence is not a wildcard.
    private static bool FactMatches(GlobPattern[]? globs, WorkloadIdentity agent, string fact) =>
        globs is null || (agent.Facts.TryGetValue(fact, out var value) && AnyMatch(globs, value));

    private static bool AnyMatch(GlobPattern[] globs, string value)
    {
        foreach (var glob in globs)
        {
            if (glob.IsMatch(value))
            {
                return true;
            }
        }

        return false;
    }
}
