using System.Text.Json;

namespace JitBroker.Attestation;

/// <summary>JSON reading helpers that refuse ambiguity instead of picking one reading of it.</summary>
internal static class JsonStrict
{
    /// <summary>
    /// RFC 7515 §4 / RFC 7519 §4: member names must be unique. A parser that silently keeps the first or
    /// the last duplicate disagrees with some other parser, and that disagreement is an attack surface.
    /// </summary>
    public static bool HasUniqueMembers(JsonElement obj)
    {
        var count = 0;
        foreach (var _ in obj.EnumerateObject())
        {
            count++;
        }

        if (count < 2)
        {
            return true;
        }

        var seen = new HashSet<string>(count, StringComparer.Ordinal);
        foreach (var member in obj.EnumerateObject())
        {
            if (!seen.Add(member.Name))
            {
                return false;
            }
        }

        return true;
    }

    public static void RequireUniqueMembers(JsonElement obj, string what)
    {
        if (!HasUniqueMembers(obj))
        {
            throw new BundleFormatException($"{what} has duplicate member names");
        }
    }

    /// <summary>The member's string value; null when absent or not a string.</summary>
    public static string? OptionalString(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    public static bool TryBase64Url(JsonElement obj, string name, out byte[] bytes)
    {
        bytes = [];
        var text = OptionalString(obj, name);
        return text is not null && Base64UrlStrict.TryDecode(text, out bytes) && bytes.Length > 0;
    }
}
