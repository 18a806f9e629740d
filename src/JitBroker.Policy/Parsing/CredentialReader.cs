using System.Buffers;
using JitBroker.Policy.Model;
using YamlDotNet.RepresentationModel;

namespace JitBroker.Policy.Parsing;

/// <summary>Reads the <c>credential</c> block of an allow rule.</summary>
internal static class CredentialReader
{
    public const int MaxKindLength = 64;

    /// <summary>Same limit the broker puts on a request's target, so every audience written here is requestable.</summary>
    public const int MaxAudienceLength = 512;

    private static readonly string[] CredentialKeys = ["kind", "audiences", "max_ttl"];
    private static readonly SearchValues<char> KindChars = SearchValues.Create("abcdefghijklmnopqrstuvwxyz0123456789-_.");

    public static CredentialTemplate Read(PolicyErrors errors, YamlNode node, string owner, PolicyDefaults defaults)
    {
        var credential = YamlMapping.Of(errors, node, $"{owner}: credential");
        credential.RejectUnknownKeys($"{owner} credential", CredentialKeys);

        var kind = credential.TryGet("kind", out var kindNode) ? ReadKind(errors, kindNode, owner) : CredentialTemplate.DefaultKind;
        var audiences = ReadAudiences(errors, credential.Require("audiences", $"{owner}: credential"), owner);

        TimeSpan? maxTtl = null;
        if (credential.TryGet("max_ttl", out var maxTtlNode))
        {
            var field = $"{owner}: credential.max_ttl";
            if (!PolicyDuration.TryParse(YamlNodes.ReadString(errors, maxTtlNode, field), field, out var parsed, out var problem))
            {
                throw errors.At(maxTtlNode, problem!);
            }

            // A rule cannot raise the document's ceiling; writing a larger value is a contradiction, not a wish.
            if (defaults.MaxTtl is { } ceiling && parsed > ceiling)
            {
                throw errors.At(maxTtlNode,
                    $"{field} {PolicyDuration.Format(parsed)} exceeds defaults.max_ttl {PolicyDuration.Format(ceiling)}");
            }

            maxTtl = parsed;
        }
        else if (defaults.MaxTtl is null)
        {
            throw errors.At(node, $"{owner}: credential.max_ttl is required when defaults.max_ttl is not set (every grant needs a lifetime bound)");
        }

        return new CredentialTemplate(kind, audiences, maxTtl);
    }

    private static string ReadKind(PolicyErrors errors, YamlNode node, string owner)
    {
        var kind = YamlNodes.ReadString(errors, node, $"{owner}: credential.kind");
        return kind.Length is > 0 and <= MaxKindLength && kind.AsSpan().IndexOfAnyExcept(KindChars) < 0
            ? kind
            : throw errors.At(node, $"{owner}: credential.kind '{kind}' must be 1-{MaxKindLength} characters of a-z 0-9 - _ .");
    }

    private static string[] ReadAudiences(PolicyErrors errors, YamlNode node, string owner)
    {
        var field = $"{owner}: credential.audiences";
        var entries = YamlNodes.ReadStringList(errors, node, field);
        if (entries.Count == 0)
        {
            throw errors.At(node, $"{field} must name at least one audience");
        }

        var audiences = new string[entries.Count];
        for (var i = 0; i < entries.Count; i++)
        {
            var (audience, entryNode) = entries[i];
            if (audience.Length is 0 or > MaxAudienceLength || audience.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
            {
                throw errors.At(entryNode, $"{field}: '{audience}' must be 1-{MaxAudienceLength} characters without spaces");
            }

            // Audiences are compared exactly; a '*' here would read as a pattern to a reviewer and match nothing.
            if (audience.Contains('*'))
            {
                throw errors.At(entryNode, $"{field}: '{audience}' contains '*'; audiences are exact values, not patterns");
            }

            if (Array.IndexOf(audiences, audience, 0, i) >= 0)
            {
                throw errors.At(entryNode, $"{field}: '{audience}' is listed twice");
            }

            audiences[i] = audience;
        }

        return audiences;
    }
}
