using YamlDotNet.RepresentationModel;

namespace JitBroker.Policy.Parsing;

/// <summary>
/// One YAML mapping read strictly: keys are non-empty strings (YamlDotNet already refuses duplicates), every
/// key must be known to the reader, and a missing required key is reported on the mapping itself.
/// </summary>
internal sealed class YamlMapping
{
    private readonly PolicyErrors _errors;
    private readonly List<(string Key, YamlNode KeyNode, YamlNode Value)> _entries = [];

    private YamlMapping(PolicyErrors errors, YamlMappingNode node)
    {
        _errors = errors;
        Node = node;
        foreach (var (key, value) in node.Children)
        {
            if (key is not YamlScalarNode { Value: { Length: > 0 } name })
            {
                throw errors.At(key, "mapping keys must be non-empty strings");
            }

            _entries.Add((name, key, value));
        }
    }

    public YamlMappingNode Node { get; }

    /// <summary>Entries in document order.</summary>
    public IReadOnlyList<(string Key, YamlNode KeyNode, YamlNode Value)> Entries => _entries;

    /// <summary>Reads <paramref name="node"/> as a mapping, or fails naming <paramref name="what"/>.</summary>
    public static YamlMapping Of(PolicyErrors errors, YamlNode node, string what) =>
        node is YamlMappingNode mapping ? new YamlMapping(errors, mapping)
        : throw errors.At(node, $"{what} must be a mapping, not {YamlNodes.Describe(node)}");

    public bool TryGet(string key, out YamlNode value)
    {
        foreach (var entry in _entries)
        {
            if (entry.Key == key)
            {
                value = entry.Value;
                return true;
            }
        }

        value = null!;
        return false;
    }

    public YamlNode Require(string key, string owner) =>
        TryGet(key, out var value) ? value : throw _errors.At(Node, $"{owner} is missing required key '{key}'");

    /// <summary>The node of <paramref name="key"/> itself, for errors about the key being present at all.</summary>
    public YamlNode? KeyNode(string key)
    {
        foreach (var entry in _entries)
        {
            if (entry.Key == key)
            {
                return entry.KeyNode;
            }
        }

        return null;
    }

    /// <summary>Fails on the first key, in document order, that is not in <paramref name="allowed"/>.</summary>
    public void RejectUnknownKeys(string owner, params string[] allowed)
    {
        foreach (var entry in _entries)
        {
            if (Array.IndexOf(allowed, entry.Key) < 0)
            {
                throw _errors.At(entry.KeyNode, $"unknown key '{entry.Key}' in {owner}; expected one of: {string.Join(", ", allowed)}");
            }
        }
    }
}
