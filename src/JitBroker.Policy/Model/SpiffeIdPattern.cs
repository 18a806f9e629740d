using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using JitBroker.Core;

namespace JitBroker.Policy.Model;

/// <summary>
/// A glob over SPIFFE IDs whose trust domain is literal: <c>spiffe://&lt;trust-domain&gt;/&lt;path glob&gt;</c>.
/// A wildcard in the trust domain would let a policy written for one domain match agents of another
/// (<c>spiffe://dev*</c> also matches <c>spiffe://dev.attacker.example</c>), so it is refused at load; the
/// literal domain also lets the engine index rules by the agent's trust domain.
/// </summary>
internal sealed class SpiffeIdPattern
{
    private const string Scheme = "spiffe://";

    // SPIFFE ID spec: trust domain names are lowercase letters, digits, '.', '-' and '_'.
    private static readonly SearchValues<char> TrustDomainChars = SearchValues.Create("abcdefghijklmnopqrstuvwxyz0123456789.-_");

    private SpiffeIdPattern(string trustDomain, GlobPattern glob)
    {
        TrustDomain = trustDomain;
        Glob = glob;
    }

    public string TrustDomain { get; }

    public GlobPattern Glob { get; }

    public static bool TryParse(string pattern, [NotNullWhen(true)] out SpiffeIdPattern? result, [NotNullWhen(false)] out string? error)
    {
        result = null;
        if (!GlobPattern.TryParse(pattern, out var glob, out error))
        {
            return false;
        }

        var slash = pattern.Length > Scheme.Length ? pattern.IndexOf('/', Scheme.Length) : -1;
        var trustDomain = slash > Scheme.Length ? pattern[Scheme.Length..slash] : string.Empty;
        if (!pattern.StartsWith(Scheme, StringComparison.Ordinal) || trustDomain.Length == 0 ||
            trustDomain.AsSpan().IndexOfAnyExcept(TrustDomainChars) >= 0 || slash == pattern.Length - 1)
        {
            error = $"'{pattern}' is not a SPIFFE ID pattern: write spiffe://<trust-domain>/<path glob> with a literal, lowercase trust domain";
            return false;
        }

        result = new SpiffeIdPattern(trustDomain, glob);
        return true;
    }

    /// <summary>True when the identity belongs to this trust domain and its ID matches the glob.</summary>
    public bool IsMatch(string trustDomain, string id) =>
        string.Equals(trustDomain, TrustDomain, StringComparison.Ordinal) && Glob.IsMatch(id);
}
