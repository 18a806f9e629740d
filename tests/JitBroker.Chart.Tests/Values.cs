using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace JitBroker.Chart.Tests;

/// <summary>
/// Helm values as JSON: YAML read the way Helm reads it (plain scalars resolved to null, booleans and
/// numbers; quoted scalars stay strings), user files coalesced over the defaults (maps merge, anything else
/// replaces, null deletes the key), and Go-template truthiness for <c>if .Values.x</c>.
/// </summary>
internal static partial class Values
{
    public static JsonNode? LoadYamlFile(string path) => ParseYaml(File.ReadAllText(path));

    public static JsonNode? ParseYaml(string text)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        return stream.Documents.Count == 0 ? null : ToJson(stream.Documents[0].RootNode);
    }

    /// <summary>The chart's values.yaml with each override file coalesced over it, in order (like <c>helm -f a -f b</c>).</summary>
    public static JsonObject Effective(params string[] overrideFiles)
    {
        var values = (JsonObject)LoadYamlFile(RepoPaths.ValuesYaml)!;
        foreach (var file in overrideFiles)
        {
            Coalesce(values, (JsonObject?)LoadYamlFile(file) ?? []);
        }

        return values;
    }

    public static void Coalesce(JsonObject target, JsonObject overrides)
    {
        foreach (var (key, value) in overrides.ToList())
        {
            if (value is null)
            {
                target.Remove(key);
            }
            else if (value is JsonObject child && target[key] is JsonObject existing)
            {
                Coalesce(existing, child);
            }
            else
            {
                target[key] = value.DeepClone();
            }
        }
    }

    /// <summary>The node at a dotted path (<c>redis.auth.existingSecret</c>), or null when any step is missing.</summary>
    public static JsonNode? At(JsonNode? root, string dottedPath)
    {
        var node = root;
        foreach (var part in dottedPath.Split('.'))
        {
            node = node is JsonObject obj && obj.TryGetPropertyValue(part, out var next) ? next : null;
        }

        return node;
    }

    /// <summary>Go template truthiness: false, 0, nil, and empty strings, maps and lists are false.</summary>
    public static bool IsTruthy(JsonNode? node) => node switch
    {
        null => false,
        JsonObject o => o.Count > 0,
        JsonArray a => a.Count > 0,
        JsonValue v when v.TryGetValue<bool>(out var b) => b,
        JsonValue v when v.TryGetValue<string>(out var s) => s.Length > 0,
        JsonValue v when v.TryGetValue<double>(out var d) => d != 0,
        JsonValue v when v.TryGetValue<long>(out var l) => l != 0,
        _ => true,
    };

    private static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(c =>
            KeyValuePair.Create(((YamlScalarNode)c.Key).Value ?? "", ToJson(c.Value)))),
        YamlSequenceNode seq => new JsonArray([.. seq.Children.Select(ToJson)]),
        YamlScalarNode scalar => Scalar(scalar),
        _ => throw new NotSupportedException($"YAML node {node.GetType().Name} at {node.Start}"),
    };

    private static JsonNode? Scalar(YamlScalarNode scalar)
    {
        var text = scalar.Value ?? "";
        if (scalar.Style is not YamlDotNet.Core.ScalarStyle.Plain)
        {
            return JsonValue.Create(text);
        }

        // YAML 1.1 resolution, as go-yaml (and so Helm) does it.
        return text switch
        {
            "" or "~" or "null" or "Null" or "NULL" => null,
            "true" or "True" or "TRUE" or "yes" or "Yes" or "YES" or "on" or "On" or "ON" => JsonValue.Create(true),
            "false" or "False" or "FALSE" or "no" or "No" or "NO" or "off" or "Off" or "OFF" => JsonValue.Create(false),
            _ when IntegerPattern().IsMatch(text) => JsonValue.Create(long.Parse(text, CultureInfo.InvariantCulture)),
            _ when OctalPattern().IsMatch(text) => JsonValue.Create(Convert.ToInt64(text[1..], 8)),
            _ when FloatPattern().IsMatch(text) => JsonValue.Create(double.Parse(text, CultureInfo.InvariantCulture)),
            _ => JsonValue.Create(text),
        };
    }

    [GeneratedRegex("^[-+]?(0|[1-9][0-9]*)$")]
    private static partial Regex IntegerPattern();

    [GeneratedRegex("^0[0-7]+$")]
    private static partial Regex OctalPattern();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex FloatPattern();
}
