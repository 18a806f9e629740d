using System.Buffers;
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
/// which is what lets an independent verifier recompute every hash. Written straight to UTF-8 (what is hashed and
/// stored), never through an intermediate string: every broker request writes two records.
/// </summary>
internal static class CanonicalJson
{
    // JCS serializes numbers as ECMAScript does; restricting to integers that a double represents exactly
    // keeps every implementation (C#, Python, JavaScript) byte-identical.
    private const long MaxSafeInteger = 9_007_199_254_740_991;

    // A scratch buffer per thread (records are written by one writer loop); one that grew past this is not kept.
    private const int MaxKeptBuffer = 64 * 1024;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_scratch;

    /// <summary>The JCS form, members sorted. Throws <see cref="FormatException"/> for values outside the subset.</summary>
    public static string Canonicalize(JsonNode? node, string? omitTopLevelMember = null) =>
        WithScratch(node, omitTopLevelMember, sortKeys: true, static bytes => Encoding.UTF8.GetString(bytes));

    /// <summary>The same escaping with members in insertion order: how lines are written, readable left to right.</summary>
    public static string Serialize(JsonNode? node) =>
        WithScratch(node, null, sortKeys: false, static bytes => Encoding.UTF8.GetString(bytes));

    /// <summary>SHA-256 of the JCS form (members sorted), without <paramref name="omitTopLevelMember"/>.</summary>
    public static byte[] CanonicalHash(JsonNode? node, string? omitTopLevelMember) =>
        WithScratch(node, omitTopLevelMember, sortKeys: true, static bytes => System.Security.Cryptography.SHA256.HashData(bytes));

    /// <summary><see cref="Canonicalize"/> as UTF-8 bytes (what a signature or hash covers).</summary>
    public static byte[] CanonicalizeUtf8(JsonNode? node) =>
        WithScratch(node, null, sortKeys: true, static bytes => bytes.ToArray());

    /// <summary><see cref="Serialize"/> as UTF-8 bytes.</summary>
    public static byte[] SerializeUtf8(JsonNode? node) =>
        WithScratch(node, null, sortKeys: false, static bytes => bytes.ToArray());

    private static T WithScratch<T>(JsonNode? node, string? omit, bool sortKeys, Func<ReadOnlySpan<byte>, T> use) =>
        WithScratch((node, omit, sortKeys), static (output, s) => Write(output, s.node, s.sortKeys, s.omit), use);

    /// <summary>
    /// Runs <paramref name="write"/> into this thread's scratch buffer and returns what <paramref name="use"/> makes of
    /// the bytes (which must not escape it): no buffer per record.
    /// </summary>
    internal static T WithScratch<TState, T>(TState state, Action<ArrayBufferWriter<byte>, TState> write, Func<ReadOnlySpan<byte>, T> use)
    {
        var scratch = t_scratch ?? new ArrayBufferWriter<byte>(1024);
        t_scratch = null; // re-entrant use (none today) would get a fresh buffer instead of sharing this one
        scratch.ResetWrittenCount();
        try
        {
            write(scratch, state);
            return use(scratch.WrittenSpan);
        }
        finally
        {
            if (scratch.Capacity <= MaxKeptBuffer)
            {
                t_scratch = scratch;
            }
        }
    }

    private static void Write(ArrayBufferWriter<byte> output, JsonNode? node, bool sortKeys, string? omit = null)
    {
        switch (node)
        {
            case null:
                WriteLiteral(output, "null");
                break;
            case JsonObject obj:
                WriteObject(output, obj, sortKeys, omit);
                break;
            case JsonArray array:
                WriteByte(output, (byte)'[');
                for (var i = 0; i < array.Count; i++)
                {
                    if (i > 0)
                    {
                        WriteByte(output, (byte)',');
                    }

                    Write(output, array[i], sortKeys);
                }

                WriteByte(output, (byte)']');
                break;
            case JsonValue value:
                WriteValue(output, value);
                break;
            default:
                throw new FormatException("Unsupported JSON node.");
        }
    }

    private static void WriteObject(ArrayBufferWriter<byte> output, JsonObject obj, bool sortKeys, string? omit)
    {
        var count = obj.Count;
        var members = ArrayPool<KeyValuePair<string, JsonNode?>>.Shared.Rent(count);
        try
        {
            var n = 0;
            foreach (var member in obj)
            {
                if (member.Key != omit)
                {
                    members[n++] = member;
                }
            }

            if (sortKeys)
            {
                Array.Sort(members, 0, n, OrdinalKeys.Instance);
            }

            WriteByte(output, (byte)'{');
            for (var i = 0; i < n; i++)
            {
                if (i > 0)
                {
                    WriteByte(output, (byte)',');
                }

                WriteString(output, members[i].Key);
                WriteByte(output, (byte)':');
                Write(output, members[i].Value, sortKeys);
            }

            WriteByte(output, (byte)'}');
        }
        finally
        {
            ArrayPool<KeyValuePair<string, JsonNode?>>.Shared.Return(members, clearArray: true);
        }
    }

    private static void WriteValue(ArrayBufferWriter<byte> output, JsonValue value)
    {
        switch (value.GetValueKind())
        {
            case JsonValueKind.String:
                WriteString(output, value.GetValue<string>());
                break;
            case JsonValueKind.True:
                WriteLiteral(output, "true");
                break;
            case JsonValueKind.False:
                WriteLiteral(output, "false");
                break;
            case JsonValueKind.Null:
                WriteLiteral(output, "null");
                break;
            case JsonValueKind.Number:
                WriteInteger(output, value);
                break;
            default:
                throw new FormatException("Unsupported JSON value.");
        }
    }

    private static void WriteInteger(ArrayBufferWriter<byte> output, JsonValue value)
    {
        // A value the broker built holds a CLR integer; a parsed one keeps its text, and "1.0", "1e3" or "-0"
        // would canonicalize differently elsewhere, so parsed text must be the integer's one spelling.
        if (!value.TryGetValue<JsonElement>(out _) && value.TryGetValue<long>(out var built))
        {
            WriteSafeInteger(output, built, null);
            return;
        }

        var text = value.ToJsonString();
        if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ||
            n.ToString(CultureInfo.InvariantCulture) != text)
        {
            throw new FormatException($"Only integers up to 2^53-1 are allowed, not {Truncate(text)}.");
        }

        WriteSafeInteger(output, n, text);
    }

    internal static void WriteSafeInteger(ArrayBufferWriter<byte> output, long n, string? text = null)
    {
        if (n is > MaxSafeInteger or < -MaxSafeInteger)
        {
            throw new FormatException($"Only integers up to 2^53-1 are allowed, not {Truncate(text ?? n.ToString(CultureInfo.InvariantCulture))}.");
        }

        n.TryFormat(output.GetSpan(20), out var written, provider: CultureInfo.InvariantCulture);
        output.Advance(written);
    }

    /// <summary>A JSON string, escaped the JCS way; throws <see cref="FormatException"/> on a lone surrogate.</summary>
    internal static void WriteString(ArrayBufferWriter<byte> output, string s)
    {
        WriteByte(output, (byte)'"');
        var run = 0; // start of the characters not yet written, all of them literal
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (char.IsSurrogate(c))
            {
                // JCS (and UTF-8) need well-formed text; a lone surrogate has no canonical bytes.
                if (!char.IsHighSurrogate(c) || i + 1 >= s.Length || !char.IsLowSurrogate(s[i + 1]))
                {
                    throw new FormatException("A string holds a lone UTF-16 surrogate.");
                }

                i++;
                continue;
            }

            if (c >= 0x20 && c != '"' && c != '\\')
            {
                continue;
            }

            Utf8(output, s.AsSpan(run, i - run));
            run = i + 1;
            switch (c)
            {
                case '"': WriteLiteral(output, "\\\""); break;
                case '\\': WriteLiteral(output, "\\\\"); break;
                case '\b': WriteLiteral(output, "\\b"); break;
                case '\f': WriteLiteral(output, "\\f"); break;
                case '\n': WriteLiteral(output, "\\n"); break;
                case '\r': WriteLiteral(output, "\\r"); break;
                case '\t': WriteLiteral(output, "\\t"); break;
                default:
                    WriteLiteral(output, "\\u00");
                    WriteByte(output, (byte)"0123456789abcdef"[c >> 4]);
                    WriteByte(output, (byte)"0123456789abcdef"[c & 0xF]);
                    break;
            }
        }

        Utf8(output, s.AsSpan(run));
        WriteByte(output, (byte)'"');
    }

    private static void Utf8(ArrayBufferWriter<byte> output, ReadOnlySpan<char> chars)
    {
        if (chars.IsEmpty)
        {
            return;
        }

        var written = Encoding.UTF8.GetBytes(chars, output.GetSpan(Encoding.UTF8.GetMaxByteCount(chars.Length)));
        output.Advance(written);
    }

    internal static void WriteLiteral(ArrayBufferWriter<byte> output, string ascii)
    {
        var span = output.GetSpan(ascii.Length);
        for (var i = 0; i < ascii.Length; i++)
        {
            span[i] = (byte)ascii[i];
        }

        output.Advance(ascii.Length);
    }

    internal static void WriteByte(ArrayBufferWriter<byte> output, byte b)
    {
        output.GetSpan(1)[0] = b;
        output.Advance(1);
    }

    /// <summary>Replaces lone surrogates with U+FFFD so every string the writer records has canonical bytes.</summary>
    public static string WellFormed(string s)
    {
        if (s.AsSpan().IndexOfAnyInRange('\ud800', '\udfff') < 0)
        {
            return s;
        }

        // Encoding.UTF8 substitutes U+FFFD for ill-formed UTF-16; the round trip keeps everything else as is.
        return Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(s));
    }

    private static string Truncate(string s) => s.Length <= 32 ? s : s[..32] + "…";

    // Members sorted by UTF-16 code units, as JCS asks.
    private sealed class OrdinalKeys : IComparer<KeyValuePair<string, JsonNode?>>
    {
        public static readonly OrdinalKeys Instance = new();

        public int Compare(KeyValuePair<string, JsonNode?> x, KeyValuePair<string, JsonNode?> y) => string.CompareOrdinal(x.Key, y.Key);
    }
}
