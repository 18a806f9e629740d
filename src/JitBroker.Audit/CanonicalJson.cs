using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace JitBroker.Audit;

/// <summary>
/// RFC 8785 (JCS) serialization for the values audit records hold: objects, arrays, strings, integers,
/// booleans and null. Members sorted by UTF-16 code units, no whitespace, strings escaped the ECMAScript way
/// (only <c>"</c>, <c>\</c> and controls below U+0020; everything else literal UTF-8). Python's
/// <c>json.dumps(v, separators=(",", ":"), ensure_ascii=False)</c> produces the same bytes for these values,
/// which is what lets an independent verifier recompute every hash.
/// </summary>
internal static class CanonicalJson
{
    // JCS serializes numbers as ECMAScript does; restricting to integers that a double represents exactly
    // keeps every implementation (C#, Python, JavaScript) byte-identical.
    private const long MaxSafeInteger = 9_007_199_254_740_991;

    /// <summary>The JCS form, members sorted. Throws <see cref="FormatException"/> for values outside the subset.</summary>
    public static string Canonicalize(JsonNode? node, string? omitTopLevelMember = null)
    {
        var builder = new StringBuilder(512);
        Write(builder, node, sortKeys: true, omitTopLevelMember);
        return builder.ToString();
    }

    /// <summary>The same escaping with members in insertion order: how lines are written, readable left to right.</summary>
    public static string Serialize(JsonNode? node)
    {
        var builder = new StringBuilder(512);
        Write(builder, node, sortKeys: false);
        return builder.ToString();
    }

    private static void Write(StringBuilder builder, JsonNode? node, bool sortKeys, string? omit = null)
    {
        switch (node)
        {
            case null:
                builder.Append("null");
                break;
            case JsonObject obj:
                builder.Append('{');
                IEnumerable<KeyValuePair<string, JsonNode?>> members = obj;
                if (sortKeys)
                {
                    members = obj.OrderBy(m => m.Key, StringComparer.Ordinal);
                }

                var first = true;
                foreach (var (key, value) in members)
                {
                    if (key == omit)
                    {
                        continue;
                    }

                    builder.Append(first ? "" : ",");
                    first = false;
                    WriteString(builder, key);
                    builder.Append(':');
                    Write(builder, value, sortKeys);
                }

                builder.Append('}');
                break;
            case JsonArray array:
                builder.Append('[');
                for (var i = 0; i < array.Count; i++)
                {
                    builder.Append(i == 0 ? "" : ",");
                    Write(builder, array[i], sortKeys);
                }

                builder.Append(']');
                break;
            case JsonValue value:
                WriteValue(builder, value);
                break;
            default:
                throw new FormatException("Unsupported JSON node.");
        }
    }

    private static void WriteValue(StringBuilder builder, JsonValue value)
    {
        switch (value.GetValueKind())
        {
            case JsonValueKind.String:
                WriteString(builder, value.GetValue<string>());
                break;
            case JsonValueKind.True:
                builder.Append("true");
                break;
            case JsonValueKind.False:
                builder.Append("false");
                break;
            case JsonValueKind.Null:
                builder.Append("null");
                break;
            case JsonValueKind.Number:
                // Parsed numbers keep their text; "1.0", "1e3" or "-0" would canonicalize differently elsewhere.
                var text = value.ToJsonString();
                if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ||
                    Math.Abs(n) > MaxSafeInteger || n.ToString(CultureInfo.InvariantCulture) != text)
                {
                    throw new FormatException($"Only integers up to 2^53-1 are allowed, not {Truncate(text)}.");
                }

                builder.Append(text);
                break;
            default:
                throw new FormatException("Unsupported JSON value.");
        }
    }

    private static void WriteString(StringBuilder builder, string s)
    {
        builder.Append('"');
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            switch (c)
            {
                case '"': builder.Append("\\\""); break;
                case '\\': builder.Append("\\\\"); break;
                case '\b': builder.Append("\\b"); break;
                case '\f': builder.Append("\\f"); break;
                case '\n': builder.Append("\\n"); break;
                case '\r': builder.Append("\\r"); break;
                case '\t': builder.Append("\\t"); break;
                default:
                    if (c < 0x20)
                    {
                        builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else if (char.IsSurrogate(c))
                    {
                        // JCS (and UTF-8) need well-formed text; a lone surrogate has no canonical bytes.
                        if (!char.IsHighSurrogate(c) || i + 1 >= s.Length || !char.IsLowSurrogate(s[i + 1]))
                        {
                            throw new FormatException("A string holds a lone UTF-16 surrogate.");
                        }

                        builder.Append(c).Append(s[++i]);
                    }
                    else
                    {
                        builder.Append(c);
                    }

                    break;
            }
        }

        builder.Append('"');
    }

    /// <summary>Replaces lone surrogates with U+FFFD so every string the writer records has canonical bytes.</summary>
    public static string WellFormed(string s)
    {
        if (!s.Any(char.IsSurrogate))
        {
            return s;
        }

        // Encoding.UTF8 substitutes U+FFFD for ill-formed UTF-16; the round trip keeps everything else as is.
        return Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(s));
    }

    private static string Truncate(string s) => s.Length <= 32 ? s : s[..32] + "…";
}
