using System.Runtime.InteropServices;
using System.Text.Json;

namespace JitBroker.Attestation;

/// <summary>JSON reading helpers that refuse ambiguity instead of picking one reading of it.</summary>
internal static class JsonStrict
{
    /// <summary>Objects with more members than this are checked through a set of decoded names, never pair by pair.</summary>
    internal const int MaxPairwiseMembers = 16;

    /// <summary>
    /// RFC 7515 §4 / RFC 7519 §4: member names must be unique. A parser that silently keeps the first or
    /// the last duplicate disagrees with some other parser, and that disagreement is an attack surface.
    /// </summary>
    /// <remarks>
    /// A token's header and claims have a handful of members, and every token that reaches the broker is checked: their
    /// names are compared as the raw UTF-8 the document already holds, pair by pair, with no string per name. Raw bytes
    /// are the name itself only when the name has no escape (<c>"a"</c> and <c>"\u0061"</c> are one name), so an object
    /// with any escaped name — and one too large for pairs, whose cost an attacker would choose — is checked by its
    /// decoded names.
    /// </remarks>
    public static bool HasUniqueMembers(JsonElement obj)
    {
        var count = 0;
        var escaped = false;
        foreach (var member in obj.EnumerateObject())
        {
            count++;
            escaped |= JsonMarshal.GetRawUtf8PropertyName(member).Contains((byte)'\\');
        }

        if (count < 2)
        {
            return true;
        }

        return escaped || count > MaxPairwiseMembers ? HasUniqueDecodedNames(obj, count) : HasUniqueRawNames(obj);
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

    private static bool HasUniqueRawNames(JsonElement obj)
    {
        var index = 0;
        foreach (var member in obj.EnumerateObject())
        {
            var name = JsonMarshal.GetRawUtf8PropertyName(member);
            var other = 0;
            foreach (var earlier in obj.EnumerateObject())
            {
                if (other++ == index)
                {
                    break;
                }

                if (name.SequenceEqual(JsonMarshal.GetRawUtf8PropertyName(earlier)))
                {
                    return false;
                }
            }

            index++;
        }

        return true;
    }

    private static bool HasUniqueDecodedNames(JsonElement obj, int count)
    {
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
}
