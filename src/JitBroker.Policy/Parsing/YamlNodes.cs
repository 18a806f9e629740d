using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace JitBroker.Policy.Parsing;

/// <summary>Builds <see cref="PolicyLoadException"/>s positioned on a node of one source.</summary>
internal sealed class PolicyErrors(string sourceName)
{
    public string SourceName { get; } = sourceName;

    public PolicyLoadException At(YamlNode node, string problem) => At(node.Start, problem);

    public PolicyLoadException At(Mark mark, string problem) => new(SourceName, (int)mark.Line, (int)mark.Column, problem);
}

/// <summary>
/// Strict reading of YAML nodes: every value has exactly the expected node kind, scalars are never an
/// implicit null, anchors, aliases and explicit tags are refused (policy is reviewed as text; a value
/// defined elsewhere by reference or coerced by a tag is how reviews miss things).
/// </summary>
internal static class YamlNodes
{
    private const int MaxDepth = 32;

    /// <summary>Rejects anchors, aliases and tags anywhere in the tree, before any value is interpreted.</summary>
    public static void RejectAnchorsAndTags(PolicyErrors errors, YamlNode node, int depth = 0)
    {
        // An alias resolves to its anchored node, so refusing every anchored node also refuses every alias,
        // and stopping there means a self-referencing alias can never make this walk loop.
        if (!node.Anchor.IsEmpty)
        {
            throw errors.At(node, $"anchors and aliases are not supported in policy (found '&{node.Anchor.Value}'); write values out");
        }

        if (!node.Tag.IsEmpty && !node.Tag.IsNonSpecific)
        {
            throw errors.At(node, $"explicit tags are not supported in policy (found '{node.Tag.Value}')");
        }

        if (depth > MaxDepth)
        {
            throw errors.At(node, $"policy is nested deeper than {MaxDepth} levels");
        }

        switch (node)
        {
            case YamlMappingNode mapping:
                foreach (var (key, value) in mapping.Children)
                {
                    RejectAnchorsAndTags(errors, key, depth + 1);
                    RejectAnchorsAndTags(errors, value, depth + 1);
                }

                break;
            case YamlSequenceNode sequence:
                foreach (var item in sequence.Children)
                {
                    RejectAnchorsAndTags(errors, item, depth + 1);
                }

                break;
        }
    }

    /// <summary>A scalar that is a string (any quoting style), never a plain <c>null</c>/<c>~</c>/empty value.</summary>
    public static string ReadString(PolicyErrors errors, YamlNode node, string field)
    {
        if (node is not YamlScalarNode scalar)
        {
            throw errors.At(node, $"{field} must be a string, not {Describe(node)}");
        }

        if (IsNull(scalar))
        {
            throw errors.At(node, $"{field} must be a string, not null");
        }

        return scalar.Value!;
    }

    /// <summary>A sequence of strings, each with its node (for positioned errors). May be empty.</summary>
    public static List<(string Value, YamlNode Node)> ReadStringList(PolicyErrors errors, YamlNode node, string field)
    {
        if (node is not YamlSequenceNode sequence)
        {
            throw errors.At(node, $"{field} must be a list of strings, not {Describe(node)}");
        }

        var items = new List<(string, YamlNode)>(sequence.Children.Count);
        foreach (var item in sequence.Children)
        {
            items.Add((ReadString(errors, item, $"every entry of {field}"), item));
        }

        return items;
    }

    public static string Describe(YamlNode node) => node switch
    {
        YamlMappingNode => "a mapping",
        YamlSequenceNode => "a list",
        YamlScalarNode scalar when IsNull(scalar) => "null",
        _ => "a scalar",
    };

    // YAML core schema nulls, only when unquoted: a quoted "null" is a string.
    private static bool IsNull(YamlScalarNode scalar) =>
        scalar.Style is ScalarStyle.Plain or ScalarStyle.Any &&
        scalar.Value is null or "" or "~" or "null" or "Null" or "NULL";
}
