using System.Buffers;
using JitBroker.Policy.Model;
using YamlDotNet.RepresentationModel;

namespace JitBroker.Policy.Parsing;

/// <summary>Reads and validates one entry of <c>rules</c>.</summary>
internal static class RuleReader
{
    public const int MaxIdLength = 64;
    public const int MaxDescriptionLength = 1024;
    public const int MaxReasonLength = 512;

    private static readonly string[] RuleKeys = ["id", "description", "effect", "principals", "actions", "tools", "resources", "credential", "reason"];
    private static readonly string[] AllowOnlyKeys = ["tools", "resources", "credential"];
    private static readonly string[] PrincipalKeys = ["spiffe_ids"];

    private static readonly SearchValues<char> RuleIdChars = SearchValues.Create("abcdefghijklmnopqrstuvwxyz0123456789-_.");

    // Actions and tools are ids in requests (CredentialRequestValidator); a pattern with any other character
    // could never match, so it is a typo and fails the load.
    private static readonly SearchValues<char> IdGlobChars =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/@*?");

    public static PolicyRule Read(
        PolicyErrors errors, YamlNode node, int index, PolicyDefaults defaults, Dictionary<string, SourcePosition> seenIds)
    {
        var rule = YamlMapping.Of(errors, node, $"rules[{index}]");
        var idNode = rule.Require("id", $"rules[{index}]");
        var id = ReadRuleId(errors, idNode);
        if (seenIds.TryGetValue(id, out var first))
        {
            throw errors.At(idNode, $"duplicate rule id '{id}' (first defined at line {first.Line})");
        }

        var position = new SourcePosition((int)node.Start.Line, (int)node.Start.Column);
        seenIds.Add(id, position);

        var owner = $"rule '{id}'";
        rule.RejectUnknownKeys(owner, RuleKeys);
        var effect = ReadEffect(errors, rule.Require("effect", owner), owner);
        RejectKeysOfTheOtherEffect(errors, rule, effect, owner);

        var description = rule.TryGet("description", out var descriptionNode)
            ? ReadText(errors, descriptionNode, $"{owner}: description", MaxDescriptionLength, singleLine: false)
            : null;
        var reason = rule.TryGet("reason", out var reasonNode)
            ? ReadText(errors, reasonNode, $"{owner}: reason", MaxReasonLength, singleLine: true)
            : null;

        var principals = ReadPrincipals(errors, rule.Require("principals", owner), owner);
        var actions = ReadGlobs(errors, rule.Require("actions", owner), $"{owner}: actions", IdGlobChars, allowEmpty: false);
        var tools = rule.TryGet("tools", out var toolsNode)
            ? ReadGlobs(errors, toolsNode, $"{owner}: tools", IdGlobChars, allowEmpty: true)
            : [];
        var resources = rule.TryGet("resources", out var resourcesNode)
            ? ReadGlobs(errors, resourcesNode, $"{owner}: resources", allowedChars: null, allowEmpty: true)
            : [];

        CredentialTemplate? credential = null;
        if (effect == RuleEffect.Allow)
        {
            var credentialNode = rule.TryGet("credential", out var found)
                ? found
                : throw errors.At(node, $"{owner} is an allow rule and needs 'credential' with at least one audience");
            credential = CredentialReader.Read(errors, credentialNode, owner, defaults);
        }

        return new PolicyRule(id, description, effect, principals, actions, tools, resources, credential, reason, position);
    }

    private static string ReadRuleId(PolicyErrors errors, YamlNode node)
    {
        var id = YamlNodes.ReadString(errors, node, "rule id");
        if (id.Length is 0 or > MaxIdLength || id.AsSpan().IndexOfAnyExcept(RuleIdChars) >= 0)
        {
            throw errors.At(node, $"rule id '{id}' must be 1-{MaxIdLength} characters of a-z 0-9 - _ .");
        }

        return id;
    }

    private static RuleEffect ReadEffect(PolicyErrors errors, YamlNode node, string owner) =>
        YamlNodes.ReadString(errors, node, $"{owner}: effect") switch
        {
            "allow" => RuleEffect.Allow,
            "deny" => RuleEffect.Deny,
            var other => throw errors.At(node, $"{owner}: effect must be 'allow' or 'deny', not '{other}'"),
        };

    private static void RejectKeysOfTheOtherEffect(PolicyErrors errors, YamlMapping rule, RuleEffect effect, string owner)
    {
        if (effect == RuleEffect.Deny)
        {
            // A deny rule narrowed by tools or audiences would read as narrower than it is; refuse the illusion.
            foreach (var key in AllowOnlyKeys)
            {
                if (rule.KeyNode(key) is { } keyNode)
                {
                    throw errors.At(keyNode, $"{owner}: '{key}' applies only to allow rules; a deny rule matches on principals and actions");
                }
            }
        }
        else if (rule.KeyNode("reason") is { } reasonKey)
        {
            throw errors.At(reasonKey, $"{owner}: 'reason' applies only to deny rules; an allow decision names its rule");
        }
    }

    private static string ReadText(PolicyErrors errors, YamlNode node, string field, int maxLength, bool singleLine)
    {
        var text = YamlNodes.ReadString(errors, node, field);
        var badChar = text.Any(c => char.IsControl(c) && (singleLine || c is not ('\n' or '\t')));
        if (text.Length is 0 || text.Length > maxLength || badChar)
        {
            throw errors.At(node, singleLine
                ? $"{field} must be one line of 1-{maxLength} printable characters"
                : $"{field} must be 1-{maxLength} printable characters");
        }

        return text;
    }

    private static PrincipalSelector ReadPrincipals(PolicyErrors errors, YamlNode node, string owner)
    {
        var principals = YamlMapping.Of(errors, node, $"{owner}: principals");
        principals.RejectUnknownKeys($"{owner} principals", PrincipalKeys);
        var listNode = principals.Require("spiffe_ids", $"{owner}: principals");
        var entries = YamlNodes.ReadStringList(errors, listNode, $"{owner}: principals.spiffe_ids");
        if (entries.Count == 0)
        {
            throw errors.At(listNode, $"{owner}: principals.spiffe_ids must name at least one SPIFFE ID pattern");
        }

        var patterns = new List<SpiffeIdPattern>(entries.Count);
        foreach (var (text, entryNode) in entries)
        {
            patterns.Add(SpiffeIdPattern.TryParse(text, out var pattern, out var problem)
                ? pattern
                : throw errors.At(entryNode, $"{owner}: {problem}"));
        }

        return new PrincipalSelector(patterns);
    }

    private static GlobPattern[] ReadGlobs(PolicyErrors errors, YamlNode node, string field, SearchValues<char>? allowedChars, bool allowEmpty)
    {
        var entries = YamlNodes.ReadStringList(errors, node, field);
        if (entries.Count == 0 && !allowEmpty)
        {
            throw errors.At(node, $"{field} must name at least one pattern");
        }

        var globs = new GlobPattern[entries.Count];
        for (var i = 0; i < entries.Count; i++)
        {
            var (text, entryNode) = entries[i];
            if (!GlobPattern.TryParse(text, out var glob, out var problem))
            {
                throw errors.At(entryNode, $"{field}: {problem}");
            }

            if (allowedChars is not null && text.AsSpan().IndexOfAnyExcept(allowedChars) >= 0)
            {
                throw errors.At(entryNode, $"{field}: '{text}' may contain only A-Z a-z 0-9 - _ . : / @ and the wildcards * ** ?");
            }

            globs[i] = glob;
        }

        return globs;
    }
}
