using System.Text.RegularExpressions;

namespace JitBroker.Vault.Tests.Fakes;

/// <summary>
/// A Vault ACL policy as Vault evaluates the subset the broker's policy uses (api-docs and docs/concepts/policies):
/// <c>path "…" { capabilities = [ … ] }</c> rules, where a path is exact, ends in <c>*</c> (prefix) or holds <c>+</c>
/// (one whole segment). A request needs the capability its method maps to — GET → read, POST/PUT → update (the
/// endpoints the broker calls all take update for writes), LIST → list — on a matching rule; Vault picks the most
/// specific match, which for these rules (no deny) is the same as "any match grants".
/// </summary>
public sealed partial class FakeVaultPolicy
{
    private readonly List<(Regex Path, HashSet<string> Capabilities)> _rules = [];

    private FakeVaultPolicy()
    {
    }

    /// <summary>Vault's built-in <c>default</c> policy, as far as the broker's own token uses it.</summary>
    public static FakeVaultPolicy Default { get; } = Parse("""
        path "auth/token/lookup-self" { capabilities = ["read"] }
        path "auth/token/renew-self"  { capabilities = ["update"] }
        path "auth/token/revoke-self" { capabilities = ["update"] }
        """);

    public IReadOnlyList<string> Paths { get; private set; } = [];

    /// <summary>Parses HCL policy text (comments and blank lines ignored); any other line is an error, so a typo in the docs fails the test.</summary>
    public static FakeVaultPolicy Parse(string hcl)
    {
        var policy = new FakeVaultPolicy();
        var paths = new List<string>();
        foreach (var raw in hcl.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var match = RuleLine().Match(line);
            if (!match.Success)
            {
                throw new FormatException($"Not a policy rule: {line}");
            }

            var path = match.Groups["path"].Value;
            var capabilities = match.Groups["caps"].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Select(c => c.Trim('"')).ToHashSet(StringComparer.Ordinal);
            policy._rules.Add((ToRegex(path), capabilities));
            paths.Add(path);
        }

        policy.Paths = paths;
        return policy;
    }

    public bool Allows(string method, string path)
    {
        var capability = method switch { "GET" => "read", "LIST" => "list", "DELETE" => "delete", _ => "update" };
        return _rules.Any(r => r.Path.IsMatch(path) && r.Capabilities.Contains(capability));
    }

    private static Regex ToRegex(string path)
    {
        var glob = path.EndsWith('*');
        var body = string.Join("[^/]+", (glob ? path[..^1] : path).Split('+').Select(Regex.Escape));
        return new Regex("^" + body + (glob ? ".*" : "") + "$", RegexOptions.CultureInvariant);
    }

    [GeneratedRegex("""^path\s+"(?<path>[^"]+)"\s*\{\s*capabilities\s*=\s*\[(?<caps>[^\]]*)\]\s*\}$""")]
    private static partial Regex RuleLine();
}
