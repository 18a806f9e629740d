using System.Globalization;
using System.Text;
using JitBroker.Core;

namespace JitBroker.Leases.Redis;

/// <summary>
/// A lease's <see cref="DecidedIntent"/> as one compact value: length-prefixed strings, <c>&lt;n&gt;:&lt;purpose&gt;</c>
/// then <c>&lt;n&gt;:&lt;key&gt;&lt;n&gt;:&lt;value&gt;</c> per context entry in key order (lengths in UTF-16 units). Length
/// prefixes rather than a separator because purpose and context are free text: no character needs refusing or
/// escaping. An empty intent is no field at all (docs/redis.md, "Memory").
/// </summary>
internal static class DecidedIntentCodec
{
    /// <summary>The lease hash field; absent on leases recorded before leases kept their intent.</summary>
    public const string Field = "in";

    public static string Encode(DecidedIntent intent)
    {
        var text = new StringBuilder();
        Append(text, intent.Purpose);
        foreach (var (key, value) in intent.Context.OrderBy(entry => entry.Key, StringComparer.Ordinal))
        {
            Append(text, key);
            Append(text, value);
        }

        return text.ToString();
    }

    /// <summary>
    /// Decodes <paramref name="text"/>; a value that does not parse reads as <see cref="DecidedIntent.None"/>, so the
    /// lease stays readable and revocable, and policy judges it with no purpose and no context (fail closed).
    /// </summary>
    public static DecidedIntent Decode(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return DecidedIntent.None;
        }

        var position = 0;
        if (!TryRead(text, ref position, out var purpose))
        {
            return DecidedIntent.None;
        }

        var context = new Dictionary<string, string>(StringComparer.Ordinal);
        while (position < text.Length)
        {
            if (!TryRead(text, ref position, out var key) || !TryRead(text, ref position, out var value))
            {
                return DecidedIntent.None;
            }

            context[key] = value;
        }

        return new DecidedIntent { Purpose = purpose, Context = context };
    }

    private static void Append(StringBuilder text, string value) =>
        text.Append(value.Length.ToString(CultureInfo.InvariantCulture)).Append(':').Append(value);

    private static bool TryRead(string text, ref int position, out string value)
    {
        value = "";
        var colon = text.IndexOf(':', position);
        if (colon <= position || colon - position > 9 ||
            !int.TryParse(text.AsSpan(position, colon - position), NumberStyles.None, CultureInfo.InvariantCulture, out var length) ||
            length > text.Length - colon - 1)
        {
            return false;
        }

        value = text.Substring(colon + 1, length);
        position = colon + 1 + length;
        return true;
    }
}
