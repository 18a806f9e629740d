using System.Buffers.Text;

namespace JitBroker.OAuth;

/// <summary>
/// base64url as JWS requires it (RFC 7515 §2): the URL-safe alphabet only, no padding, no whitespace, and the one
/// canonical encoding of each byte string (unused trailing bits zero). Lenient decoders accept all of those, which lets
/// one proof be written many ways; a replay cache keyed on the text would then miss the copies.
/// </summary>
internal static class StrictBase64Url
{
    public static bool TryDecode(ReadOnlySpan<char> text, out byte[] bytes)
    {
        bytes = [];
        if (text.Length % 4 == 1)
        {
            return false;
        }

        foreach (var c in text)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_'))
            {
                return false;
            }
        }

        try
        {
            bytes = Base64Url.DecodeFromChars(text);
        }
        catch (FormatException)
        {
            return false;
        }

        return Base64Url.EncodeToString(bytes).AsSpan().SequenceEqual(text);
    }

    public static string Encode(ReadOnlySpan<byte> bytes) => Base64Url.EncodeToString(bytes);
}
