using System.Text.Json;

namespace JitBroker.OAuth;

/// <summary>
/// JSON as the protocols here need it: RFC 8259 only (no comments, no trailing commas), shallow, and no object with
/// two members of the same name anywhere. System.Text.Json keeps the last duplicate silently; a proof or an
/// authorization_details object that means one thing to us and another to a different parser is refused instead.
/// </summary>
internal static class StrictJson
{
    private static readonly JsonDocumentOptions Options = new() { MaxDepth = 16 };

    /// <summary>The parsed document, or null when the text is not JSON. The caller disposes it.</summary>
    public static JsonDocument? TryParse(ReadOnlyMemory<byte> utf8)
    {
        try
        {
            return JsonDocument.Parse(utf8, Options);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <inheritdoc cref="TryParse(ReadOnlyMemory{byte})"/>
    public static JsonDocument? TryParse(string text)
    {
        try
        {
            return JsonDocument.Parse(text, Options);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>True when some object, at any depth, names a member twice (compared after unescaping).</summary>
    public static bool HasDuplicateMembers(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                var seen = new HashSet<string>(StringComparer.Ordinal);
                foreach (var member in element.EnumerateObject())
                {
                    if (!seen.Add(member.Name) || HasDuplicateMembers(member.Value))
                    {
                        return true;
                    }
                }

                return false;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    if (HasDuplicateMembers(item))
                    {
                        return true;
                    }
                }

                return false;
            default:
                return false;
        }
    }

    /// <summary>The string value, or null when the element is not a string or not representable as UTF-16 (a lone surrogate escape).</summary>
    public static string? StringOrNull(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.String)
        {
            return null;
        }

        try
        {
            return element.GetString();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }
}
