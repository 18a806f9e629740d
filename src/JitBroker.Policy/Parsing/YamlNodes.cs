using System.Globalization;
using JitBroker.Policy.Conditions;
using JitBroker.Policy.Model;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace JitBroker.Policy.Parsing;

/// <summary>Builds <see cref="PolicyLoadException"/>s positioned on a node of one source.</summary>
internal sealed class PolicyErrors(string sourceName)
{
    public string SourceName { get; } = sourceName;

    public PolicyLoadException At(YamlNode node, string problem) => At(node.Start, problem);

    public PolicyLoadException At(Mark mark, string problem) => new(SourceName, (int)mark.Line, (int)mark.Column, problem);

    public SourcePosition PositionOf(YamlNode node) => new(SourceName, (int)node.Start.Line, (int)node.Start.Column);
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

    /// <summary>A plain (unquoted) <c>true</c> or <c>false</c>; a quoted "true" is a string and refused.</summary>
    public static bool ReadBool(PolicyErrors errors, YamlNode node, string field) => node switch
    {
        YamlScalarNode { Style: ScalarStyle.Plain, Value: "true" } => true,
        YamlScalarNode { Style: ScalarStyle.Plain, Value: "false" } => false,
        _ => throw errors.At(node, $"{field} must be true or false, not {DescribeValue(node)}"),
    };

    /// <summary>A plain (unquoted) whole number within [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static int ReadInt(PolicyErrors errors, YamlNode node, string field, int min, int max)
    {
        if (node is YamlScalarNode { Style: ScalarStyle.Plain, Value: { Length: > 0 and <= 10 } text } &&
            int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
        {
            return value;
        }

        throw errors.At(node, $"{field} must be a whole number from {min} to {max}, not {DescribeValue(node)}");
    }

    /// <summary>A plain (unquoted) decimal number: optional '-', digits, optional fraction.</summary>
    public static decimal ReadNumber(PolicyErrors errors, YamlNode node, string field) =>
        node is YamlScalarNode { Style: ScalarStyle.Plain, Value: { } text } && ConditionValues.TryParseNumber(text, out var number)
            ? number
            : throw errors.At(node, $"{field} must be a number (digits, optional '-' and fraction), not {DescribeValue(node)}");

    /// <summary>A scalar or a non-empty list of scalars, as nodes: condition values may be written either way.</summary>
    public static List<YamlNode> ReadOneOrMany(PolicyErrors errors, YamlNode node, string field, int max)
    {
        if (node is YamlScalarNode)
        {
            return [node];
        }

        if (node is not YamlSequenceNode sequence)
        {
            throw errors.At(node, $"{field} must be a value or a list of values, not {Describe(node)}");
        }

        if (sequence.Children.Count is 0 || sequence.Children.Count > max)
        {
            throw errors.At(node, $"{field} must list 1-{max} values");
        }

        foreach (var item in sequence.Children)
        {
            if (item is not YamlScalarNode)
            {
                throw errors.At(item, $"every value of {field} must be a scalar, not {Describe(item)}");
            }
        }

        return [.. sequence.Children];
    }

    public static string Describe(YamlNode node) => node switch
    {
        YamlMappingNode => "a mapping",
        YamlSequenceNode => "a list",
        YamlScalarNode scalar when IsNull(scalar) => "null",
        _ => "a scalar",
    };

    private static string DescribeValue(YamlNode node) => node switch
    {
        YamlScalarNode { Style: ScalarStyle.Plain } scalar when !IsNull(scalar) => $"'{scalar.Value}'",
        YamlScalarNode scalar when !IsNull(scalar) => $"the quoted string '{scalar.Value}'",
        _ => Describe(node),
    };

    // YAML core schema nulls, only when unquoted: a quoted "null" is a string.
    private static bool IsNull(YamlScalarNode scalar) =>
        scalar.Style is ScalarStyle.Plain or ScalarStyle.Any &&
        scalar.Value is null or "" or "~" or "null" or "Null" or "NULL";
}
