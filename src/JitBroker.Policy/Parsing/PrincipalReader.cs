using System.Buffers;
using JitBroker.Policy.Model;
using YamlDotNet.RepresentationModel;
using JitBroker.Core;

namespace JitBroker.Policy.Parsing;

/// <summary>
/// Reads a principal selector: a rule's <c>principals</c> block (who the rule is about) or a delegation's <c>from</c>
/// block (who may delegate). <c>section</c> is the key it was read from, so errors name the block as written.
/// </summary>
internal static class PrincipalReader
{
    public const int MaxEntries = 256;

    /// <summary>Attestation methods the broker knows; a rule naming another would silently match nothing.</summary>
    public static readonly string[] KnownMethods = ["jwt-svid", "oidc", "x509-svid"];

    private static readonly string[] Keys = ["spiffe_ids", "trust_domains", "methods", "issuers", "subjects", "namespaces", "service_accounts"];
    private static readonly string[] AnchorKeys = ["spiffe_ids", "trust_domains", "issuers"];

    // Kubernetes object names are lowercase DNS labels/subdomains; anything else in a pattern is a typo.
    private static readonly SearchValues<char> KubernetesNameGlobChars = SearchValues.Create("abcdefghijklmnopqrstuvwxyz0123456789-.*?");

    public static PrincipalSelector Read(PolicyErrors errors, YamlNode node, string owner, string section = "principals")
    {
        var principals = YamlMapping.Of(errors, node, $"{owner}: {section}");
        principals.RejectUnknownKeys($"{owner} {section}", Keys);
        if (!AnchorKeys.Any(k => principals.TryGet(k, out _)))
        {
            throw errors.At(node, $"{owner}: {section} must name at least one of spiffe_ids, trust_domains or issuers " +
                "(they tie the rule to a trust root; methods, subjects, namespaces and service_accounts only narrow it)");
        }

        var spiffeIds = Optional(principals, "spiffe_ids", n => ReadSpiffeIds(errors, n, owner, section));
        var trustDomains = Optional(principals, "trust_domains", n => ReadTrustDomains(errors, n, owner, section));
        var methods = Optional(principals, "methods", n => ReadMethods(errors, n, owner, section));
        var issuers = Optional(principals, "issuers", n => ReadGlobs(errors, n, $"{owner}: {section}.issuers", GlobPattern.AnchorProblem, null));
        var subjects = Optional(principals, "subjects", n => ReadGlobs(errors, n, $"{owner}: {section}.subjects", null, null));
        var namespaces = Optional(principals, "namespaces", n => ReadGlobs(errors, n, $"{owner}: {section}.namespaces", null, KubernetesNameGlobChars));
        var serviceAccounts = Optional(principals, "service_accounts", n => ReadGlobs(errors, n, $"{owner}: {section}.service_accounts", null, KubernetesNameGlobChars));

        RejectContradictions(errors, principals, owner, section, spiffeIds, trustDomains, methods);
        RejectIssuersOnSpiffeIdentities(errors, principals, owner, section, spiffeIds, trustDomains, methods);
        return new PrincipalSelector(
            spiffeIds?.Select(s => s.Pattern).ToList(), trustDomains, methods, issuers, subjects, namespaces, serviceAccounts);
    }

    private static T? Optional<T>(YamlMapping mapping, string key, Func<YamlNode, T> read)
        where T : class => mapping.TryGet(key, out var node) ? read(node) : null;

    // A selector that can never match is a policy bug that would otherwise read as a working rule.
    private static void RejectContradictions(
        PolicyErrors errors, YamlMapping principals, string owner, string section,
        List<(SpiffeIdPattern Pattern, YamlNode Node)>? spiffeIds, List<string>? trustDomains, List<string>? methods)
    {
        if (spiffeIds is null)
        {
            return;
        }

        if (trustDomains is not null)
        {
            foreach (var (pattern, entryNode) in spiffeIds.Where(s => !trustDomains.Contains(s.Pattern.TrustDomain)))
            {
                throw errors.At(entryNode, $"{owner}: {section}.spiffe_ids '{pattern.Glob.Pattern}' is in trust domain " +
                    $"'{pattern.TrustDomain}', which {section}.trust_domains does not list, so it could never match");
            }
        }

        if (methods is not null && !methods.Contains("jwt-svid") && !methods.Contains("x509-svid"))
        {
            throw errors.At(principals.KeyNode("methods")!, $"{owner}: {section}.spiffe_ids can only match SPIFFE identities, " +
                $"but {section}.methods names no SPIFFE method (jwt-svid, x509-svid)");
        }
    }

    // Issuers match only OIDC-attested identities. A selector that pairs them with something only a SPIFFE identity
    // has was written to pick SVIDs by their own 'iss' claim — which the SPIRE server of any trusted (e.g. federated)
    // trust domain can set to anything — so it is refused rather than left to match nothing (or, before issue 17,
    // SVIDs from foreign trust domains).
    private static void RejectIssuersOnSpiffeIdentities(
        PolicyErrors errors, YamlMapping principals, string owner, string section,
        List<(SpiffeIdPattern Pattern, YamlNode Node)>? spiffeIds, List<string>? trustDomains, List<string>? methods)
    {
        if (!principals.TryGet("issuers", out _))
        {
            return;
        }

        var spiffeOnly = spiffeIds is not null ? "spiffe_ids"
            : methods is not null && !methods.Contains(PrincipalSelector.OidcMethod) ? "methods without oidc"
            : trustDomains?.FirstOrDefault(td => !td.Contains("://", StringComparison.Ordinal)) is { } spiffeDomain ? $"trust domain '{spiffeDomain}'"
            : null;
        if (spiffeOnly is not null)
        {
            throw errors.At(principals.KeyNode("issuers")!, $"{owner}: {section}.issuers match only identities the OIDC attestor verified against " +
                $"that issuer, but {section} also requires a SPIFFE identity ({spiffeOnly}); a JWT-SVID's own 'iss' is not an attested issuer " +
                "(any trusted trust domain can set it): select SPIFFE identities with spiffe_ids or trust_domains");
        }
    }

    private static List<(string Value, YamlNode Node)> NonEmptyList(PolicyErrors errors, YamlNode node, string field, string what)
    {
        var entries = YamlNodes.ReadStringList(errors, node, field);
        if (entries.Count == 0)
        {
            throw errors.At(node, $"{field} must name at least one {what}");
        }

        if (entries.Count > MaxEntries)
        {
            throw errors.At(node, $"{field} may name at most {MaxEntries} entries");
        }

        return entries;
    }

    private static List<(SpiffeIdPattern Pattern, YamlNode Node)> ReadSpiffeIds(PolicyErrors errors, YamlNode node, string owner, string section)
    {
        var result = new List<(SpiffeIdPattern, YamlNode)>();
        foreach (var (text, entryNode) in NonEmptyList(errors, node, $"{owner}: {section}.spiffe_ids", "SPIFFE ID pattern"))
        {
            result.Add((SpiffeIdPattern.TryParse(text, out var pattern, out var problem)
                ? pattern
                : throw errors.At(entryNode, $"{owner}: {problem}"), entryNode));
        }

        return result;
    }

    private static List<string> ReadTrustDomains(PolicyErrors errors, YamlNode node, string owner, string section)
    {
        var field = $"{owner}: {section}.trust_domains";
        var result = new List<string>();
        foreach (var (text, entryNode) in NonEmptyList(errors, node, field, "trust domain"))
        {
            // Exact values: a SPIFFE trust domain or an OIDC issuer URL. A wildcard would also match a lookalike domain.
            if (text.Length is 0 or > 512 || text.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is '*' or '?'))
            {
                throw errors.At(entryNode, $"{field}: '{text}' must be an exact trust domain or issuer URL, without spaces or wildcards");
            }

            if (result.Contains(text))
            {
                throw errors.At(entryNode, $"{field}: '{text}' is listed twice");
            }

            result.Add(text);
        }

        return result;
    }

    private static List<string> ReadMethods(PolicyErrors errors, YamlNode node, string owner, string section)
    {
        var field = $"{owner}: {section}.methods";
        var result = new List<string>();
        foreach (var (text, entryNode) in NonEmptyList(errors, node, field, "attestation method"))
        {
            if (!KnownMethods.Contains(text))
            {
                throw errors.At(entryNode, $"{field}: unknown attestation method '{text}'; expected one of: {string.Join(", ", KnownMethods)}");
            }

            if (result.Contains(text))
            {
                throw errors.At(entryNode, $"{field}: '{text}' is listed twice");
            }

            result.Add(text);
        }

        return result;
    }

    private static List<GlobPattern> ReadGlobs(
        PolicyErrors errors, YamlNode node, string field, Func<string, string?>? extraCheck, SearchValues<char>? allowedChars)
    {
        var result = new List<GlobPattern>();
        foreach (var (text, entryNode) in NonEmptyList(errors, node, field, "pattern"))
        {
            if (!GlobPattern.TryParse(text, out var glob, out var problem))
            {
                throw errors.At(entryNode, $"{field}: {problem}");
            }

            if (allowedChars is not null && text.AsSpan().IndexOfAnyExcept(allowedChars) >= 0)
            {
                throw errors.At(entryNode, $"{field}: '{text}' must be a Kubernetes name pattern (a-z 0-9 - . and the wildcards)");
            }

            if (extraCheck?.Invoke(text) is { } extra)
            {
                throw errors.At(entryNode, $"{field}: {extra}");
            }

            result.Add(glob);
        }

        return result;
    }
}
