using System.Buffers;
using System.Collections.Frozen;
using System.Globalization;
using JitBroker.Core;
using JitBroker.Policy.Model;
using YamlDotNet.RepresentationModel;

namespace JitBroker.Policy.Parsing;

/// <summary>
/// Reads the <c>credential</c> block of an allow rule. Which keys are allowed depends on <c>kind</c>: a JWT
/// template names <c>audiences</c> (and optional <c>scopes</c>); a Vault template names the request
/// <c>targets</c> it answers to and what it mints (<c>policies</c>… or a secret <c>path</c>). The parameters
/// become <see cref="Grant.IssuerParameters"/> under <see cref="IssuerParameterNames"/>.
/// </summary>
internal static class CredentialReader
{
    public const int MaxKindLength = 64;

    /// <summary>Same limit the broker puts on a request's target, so every target written here is requestable.</summary>
    public const int MaxAudienceLength = 512;

    public const int MaxNameLength = 128;
    public const int MaxListEntries = 64;
    public const int MaxNumUses = 1000;

    private static readonly Dictionary<string, string[]> KeysByKind = new(StringComparer.Ordinal)
    {
        [CredentialKinds.Jwt] = ["kind", "audiences", "scopes", "max_ttl"],
        [CredentialKinds.VaultToken] = ["kind", "targets", "policies", "role", "renewable", "num_uses", "max_ttl"],
        [CredentialKinds.VaultSecret] = ["kind", "targets", "path", "max_ttl"],
    };

    private static readonly SearchValues<char> KindChars = SearchValues.Create("abcdefghijklmnopqrstuvwxyz0123456789-_.");
    private static readonly SearchValues<char> VaultNameChars =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.");

    // Vault paths that are not secret engines: a credential template must never reach them.
    private static readonly string[] ForbiddenPathPrefixes = ["sys/", "auth/", "identity/", "cubbyhole/"];

    public static CredentialTemplate Read(PolicyErrors errors, YamlNode node, string owner, PolicyDefaults defaults)
    {
        var credential = YamlMapping.Of(errors, node, $"{owner}: credential");
        var kind = credential.TryGet("kind", out var kindNode) ? ReadKind(errors, kindNode, owner) : CredentialTemplate.DefaultKind;
        credential.RejectUnknownKeys($"{owner} credential (kind {kind})", KeysByKind[kind]);

        var parameters = new Dictionary<string, string>(StringComparer.Ordinal);
        string[] targets;
        if (kind == CredentialKinds.Jwt)
        {
            targets = ReadTargets(errors, credential.Require("audiences", $"{owner}: credential"), $"{owner}: credential.audiences", "audience");
            if (credential.TryGet("scopes", out var scopesNode))
            {
                parameters[IssuerParameterNames.JwtScopes] = string.Join(' ', ReadScopes(errors, scopesNode, $"{owner}: credential.scopes"));
            }
        }
        else
        {
            targets = ReadTargets(errors, credential.Require("targets", $"{owner}: credential"), $"{owner}: credential.targets", "target");
            if (kind == CredentialKinds.VaultToken)
            {
                ReadVaultToken(errors, credential, owner, parameters);
            }
            else
            {
                var pathNode = credential.Require("path", $"{owner}: credential");
                parameters[IssuerParameterNames.VaultSecretPath] = ReadVaultPath(errors, pathNode, $"{owner}: credential.path");
            }
        }

        var maxTtl = ReadMaxTtl(errors, credential, node, owner, defaults);
        return new CredentialTemplate(kind, targets, parameters.ToFrozenDictionary(StringComparer.Ordinal), maxTtl);
    }

    private static string ReadKind(PolicyErrors errors, YamlNode node, string owner)
    {
        var kind = YamlNodes.ReadString(errors, node, $"{owner}: credential.kind");
        if (kind.Length is 0 or > MaxKindLength || kind.AsSpan().IndexOfAnyExcept(KindChars) >= 0)
        {
            throw errors.At(node, $"{owner}: credential.kind '{kind}' must be 1-{MaxKindLength} characters of a-z 0-9 - _ .");
        }

        return KeysByKind.ContainsKey(kind)
            ? kind
            : throw errors.At(node, $"{owner}: credential.kind '{kind}' is not a known issuer kind; expected one of: {string.Join(", ", CredentialKinds.All)}");
    }

    private static TimeSpan? ReadMaxTtl(PolicyErrors errors, YamlMapping credential, YamlNode node, string owner, PolicyDefaults defaults)
    {
        if (!credential.TryGet("max_ttl", out var maxTtlNode))
        {
            return defaults.MaxTtl is null
                ? throw errors.At(node, $"{owner}: credential.max_ttl is required when defaults.max_ttl is not set (every grant needs a lifetime bound)")
                : null;
        }

        var field = $"{owner}: credential.max_ttl";
        if (!PolicyDuration.TryParse(YamlNodes.ReadString(errors, maxTtlNode, field), field, out var parsed, out var problem))
        {
            throw errors.At(maxTtlNode, problem!);
        }

        // A rule cannot raise the document's ceiling; writing a larger value is a contradiction, not a wish.
        if (defaults.MaxTtl is { } ceiling && parsed > ceiling)
        {
            throw errors.At(maxTtlNode, $"{field} {PolicyDuration.Format(parsed)} exceeds defaults.max_ttl {PolicyDuration.Format(ceiling)}");
        }

        return parsed;
    }

    private static string[] ReadTargets(PolicyErrors errors, YamlNode node, string field, string what)
    {
        var entries = YamlNodes.ReadStringList(errors, node, field);
        if (entries.Count is 0 or > MaxListEntries)
        {
            throw errors.At(node, $"{field} must name at least one {what} (at most {MaxListEntries})");
        }

        var targets = new string[entries.Count];
        for (var i = 0; i < entries.Count; i++)
        {
            var (target, entryNode) = entries[i];
            if (target.Length is 0 or > MaxAudienceLength || target.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
            {
                throw errors.At(entryNode, $"{field}: '{target}' must be 1-{MaxAudienceLength} characters without spaces");
            }

            // Targets are compared exactly; a '*' here would read as a pattern to a reviewer and match nothing.
            if (target.Contains('*'))
            {
                throw errors.At(entryNode, $"{field}: '{target}' contains '*'; {what}s are exact values, not patterns");
            }

            if (Array.IndexOf(targets, target, 0, i) >= 0)
            {
                throw errors.At(entryNode, $"{field}: '{target}' is listed twice");
            }

            targets[i] = target;
        }

        return targets;
    }

    private static List<string> ReadScopes(PolicyErrors errors, YamlNode node, string field)
    {
        var scopes = new List<string>();
        foreach (var (scope, entryNode) in NonEmpty(errors, node, field))
        {
            // RFC 6749 section 3.3 scope-token: printable ASCII without space, '"' and '\'.
            if (scope.Length is 0 or > MaxNameLength || scope.Any(c => c is <= ' ' or > '~' or '"' or '\\'))
            {
                throw errors.At(entryNode, $"{field}: '{scope}' is not an OAuth scope token (printable ASCII without spaces, '\"' or '\\')");
            }

            AddUnique(errors, scopes, scope, entryNode, field);
        }

        return scopes;
    }

    private static void ReadVaultToken(PolicyErrors errors, YamlMapping credential, string owner, Dictionary<string, string> parameters)
    {
        var field = $"{owner}: credential.policies";
        var policies = new List<string>();
        foreach (var (policy, entryNode) in NonEmpty(errors, credential.Require("policies", $"{owner}: credential"), field))
        {
            RequireVaultName(errors, policy, entryNode, field);

            // 'root' is every permission in Vault; no agent task needs it and no template should be able to mint it.
            if (policy == "root")
            {
                throw errors.At(entryNode, $"{field}: the 'root' policy can never be granted to an agent");
            }

            AddUnique(errors, policies, policy, entryNode, field);
        }

        parameters[IssuerParameterNames.VaultPolicies] = string.Join(',', policies);
        if (credential.TryGet("role", out var roleNode))
        {
            var role = YamlNodes.ReadString(errors, roleNode, $"{owner}: credential.role");
            RequireVaultName(errors, role, roleNode, $"{owner}: credential.role");
            parameters[IssuerParameterNames.VaultRole] = role;
        }

        if (credential.TryGet("renewable", out var renewableNode))
        {
            parameters[IssuerParameterNames.VaultRenewable] =
                YamlNodes.ReadBool(errors, renewableNode, $"{owner}: credential.renewable") ? "true" : "false";
        }

        if (credential.TryGet("num_uses", out var usesNode))
        {
            parameters[IssuerParameterNames.VaultNumUses] =
                YamlNodes.ReadInt(errors, usesNode, $"{owner}: credential.num_uses", 1, MaxNumUses).ToString(CultureInfo.InvariantCulture);
        }
    }

    private static string ReadVaultPath(PolicyErrors errors, YamlNode node, string field)
    {
        var path = YamlNodes.ReadString(errors, node, field);
        var segments = path.Split('/');
        var wellFormed = path.Length is > 0 and <= 256 &&
            segments.All(s => s.Length > 0 && s is not ("." or "..") && s.AsSpan().IndexOfAnyExcept(VaultNameChars) < 0);
        if (!wellFormed)
        {
            throw errors.At(node, $"{field} '{path}' must be a Vault path: segments of A-Z a-z 0-9 - _ . separated by '/', no '.' or '..' segment, no leading or trailing '/'");
        }

        if (ForbiddenPathPrefixes.FirstOrDefault(p => path.StartsWith(p, StringComparison.Ordinal)) is { } forbidden)
        {
            throw errors.At(node, $"{field} '{path}' is under '{forbidden}', which is not a secrets engine");
        }

        return path;
    }

    private static List<(string Value, YamlNode Node)> NonEmpty(PolicyErrors errors, YamlNode node, string field)
    {
        var entries = YamlNodes.ReadStringList(errors, node, field);
        return entries.Count is 0 or > MaxListEntries
            ? throw errors.At(node, $"{field} must name 1-{MaxListEntries} entries")
            : entries;
    }

    private static void RequireVaultName(PolicyErrors errors, string name, YamlNode node, string field)
    {
        if (name.Length is 0 or > MaxNameLength || name.AsSpan().IndexOfAnyExcept(VaultNameChars) >= 0)
        {
            throw errors.At(node, $"{field}: '{name}' must be 1-{MaxNameLength} characters of A-Z a-z 0-9 - _ .");
        }
    }

    private static void AddUnique(PolicyErrors errors, List<string> list, string value, YamlNode node, string field)
    {
        if (list.Contains(value))
        {
            throw errors.At(node, $"{field}: '{value}' is listed twice");
        }

        list.Add(value);
    }
}
