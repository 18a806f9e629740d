using JitBroker.Policy.Model;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace JitBroker.Policy.Parsing;

/// <summary>
/// YAML text → validated <see cref="PolicyDocument"/>. Walks the node tree itself rather than binding to
/// classes, so that every error carries the exact line and column of the node at fault and every key,
/// type and value is checked explicitly. Throws <see cref="PolicyLoadException"/> at the first problem.
/// </summary>
internal static class PolicyDocumentReader
{
    private const string Document = "the policy document";
    private static readonly string[] DocumentKeys = ["version", "defaults", "rules", "delegations"];
    private static readonly string[] DefaultsKeys = ["max_ttl"];

    /// <summary>
    /// Reads one file. <paramref name="seenIds"/> carries the rule and delegation ids of the files read before it, so
    /// that ids are unique across a whole policy directory; pass a fresh dictionary for a single document.
    /// </summary>
    public static PolicyDocument Read(string yaml, string sourceName, Dictionary<string, SourcePosition>? seenIds = null)
    {
        var errors = new PolicyErrors(sourceName);
        var root = LoadSingleDocument(errors, yaml);
        YamlNodes.RejectAnchorsAndTags(errors, root);

        var document = YamlMapping.Of(errors, root, Document);

        // Version first: a document written for a newer version should be told so, not that its new keys are unknown.
        var version = ReadVersion(errors, document);
        document.RejectUnknownKeys(Document, DocumentKeys);

        var defaults = document.TryGet("defaults", out var defaultsNode)
            ? ReadDefaults(errors, defaultsNode)
            : new PolicyDefaults(MaxTtl: null);

        seenIds ??= new Dictionary<string, SourcePosition>(StringComparer.Ordinal);

        // A file may hold only delegations (a 50-delegation.yaml next to the rule files); one with neither is a mistake.
        var hasDelegations = document.TryGet("delegations", out var delegationsNode);
        var rules = hasDelegations && !document.TryGet("rules", out _)
            ? []
            : ReadRules(errors, document.Require("rules", Document), defaults, seenIds);
        var delegations = hasDelegations ? ReadDelegations(errors, delegationsNode, seenIds) : [];
        return new PolicyDocument(sourceName, version, defaults, rules, delegations);
    }

    private static List<PolicyRule> ReadRules(PolicyErrors errors, YamlNode node, PolicyDefaults defaults, Dictionary<string, SourcePosition> seenIds)
    {
        if (node is not YamlSequenceNode ruleNodes)
        {
            throw errors.At(node, $"rules must be a list of rules, not {YamlNodes.Describe(node)}");
        }

        var rules = new List<PolicyRule>(ruleNodes.Children.Count);
        for (var index = 0; index < ruleNodes.Children.Count; index++)
        {
            rules.Add(RuleReader.Read(errors, ruleNodes.Children[index], index, defaults, seenIds));
        }

        return rules;
    }

    private static List<DelegationRule> ReadDelegations(PolicyErrors errors, YamlNode node, Dictionary<string, SourcePosition> seenIds)
    {
        if (node is not YamlSequenceNode entryNodes)
        {
            throw errors.At(node, $"delegations must be a list of delegation entries, not {YamlNodes.Describe(node)}");
        }

        var delegations = new List<DelegationRule>(entryNodes.Children.Count);
        for (var index = 0; index < entryNodes.Children.Count; index++)
        {
            delegations.Add(DelegationReader.Read(errors, entryNodes.Children[index], index, seenIds));
        }

        return delegations;
    }

    private static YamlNode LoadSingleDocument(PolicyErrors errors, string yaml)
    {
        var stream = new YamlStream();
        var parser = new Parser(new StringReader(yaml));
        try
        {
            stream.Load(parser);
        }
        catch (YamlException ex)
        {
            throw new PolicyLoadException(errors.SourceName, (int)ex.Start.Line, (int)ex.Start.Column, DescribeSyntaxError(ex), ex);
        }
        catch (InvalidOperationException ex)
        {
            // YamlDotNet 16.3's scanner throws this (not a YamlException) on some malformed flow collections,
            // for example an unclosed '[' followed by more block content. The last event parsed (typically
            // that '[') is the best position there is.
            var mark = parser.Current?.Start ?? Mark.Empty;
            throw new PolicyLoadException(errors.SourceName, (int)mark.Line, (int)mark.Column,
                "invalid YAML near here: a flow collection ('[...]' or '{...}') is not closed or is malformed", ex);
        }

        return stream.Documents.Count switch
        {
            0 => throw new PolicyLoadException(errors.SourceName, 1, 1, "the policy document is empty"),
            1 => stream.Documents[0].RootNode,
            _ => throw errors.At(stream.Documents[1].RootNode, "a policy file must hold exactly one YAML document"),
        };
    }

    private static string DescribeSyntaxError(YamlException ex)
    {
        // YamlDotNet words duplicate keys as "Duplicate key <name>"; say it the way the rest of our errors read.
        const string duplicate = "Duplicate key ";
        return ex.Message.StartsWith(duplicate, StringComparison.Ordinal)
            ? $"duplicate key '{ex.Message[duplicate.Length..]}'"
            : $"invalid YAML: {ex.Message}";
    }

    private static int ReadVersion(PolicyErrors errors, YamlMapping document)
    {
        var node = document.Require("version", Document);

        // Only a plain integer: a quoted "1" is a string, and strictness is cheaper than guessing intent.
        if (node is not YamlScalarNode { Style: ScalarStyle.Plain, Value: { } text } || !int.TryParse(text,
                System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var version))
        {
            throw errors.At(node, $"version must be the integer {PolicyDocument.SupportedVersion}");
        }

        if (version != PolicyDocument.SupportedVersion)
        {
            throw errors.At(node, $"unsupported policy version {version}; this broker reads version {PolicyDocument.SupportedVersion}");
        }

        return version;
    }

    private static PolicyDefaults ReadDefaults(PolicyErrors errors, YamlNode node)
    {
        var defaults = YamlMapping.Of(errors, node, "defaults");
        defaults.RejectUnknownKeys("defaults", DefaultsKeys);
        if (!defaults.TryGet("max_ttl", out var maxTtlNode))
        {
            return new PolicyDefaults(MaxTtl: null);
        }

        var text = YamlNodes.ReadString(errors, maxTtlNode, "defaults.max_ttl");
        return PolicyDuration.TryParse(text, "defaults.max_ttl", out var maxTtl, out var problem)
            ? new PolicyDefaults(maxTtl)
            : throw errors.At(maxTtlNode, problem!);
    }
}
