using System.Buffers;
using System.Buffers.Text;

namespace JitBroker.Attestation;

/// <summary>
/// RFC 7515 §2 base64url: alphabet <c>[A-Za-z0-9-_]</c>, no padding, no whitespace, and (beyond what the
/// BCL decoder checks) canonical: the unused low bits of the last character must be zero. Without that,
/// up to 16 spellings of one signature would verify, and fingerprints of "the same" token would differ.
/// </summary>
internal static class Base64UrlStrict
{
    private static readonly SearchValues<char> Alphabet =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    public static bool TryDecode(ReadOnlySpan<char> text, out byte[] bytes)
    {
        bytes = [];
        if (!IsCanonical(text))
        {
            return false;
        }

        var buffer = new byte[Base64Url.GetMaxDecodedLength(text.Length)];
        if (!Base64Url.TryDecodeFromChars(text, buffer, out var written))
        {
            return false;
        }

        bytes = written == buffer.Length ? buffer : buffer[..written];
        return true;
    }

    /// <summary>
    /// <see cref="TryDecode(ReadOnlySpan{char}, out byte[])"/> into a caller's buffer of at least
    /// <see cref="Base64Url.GetMaxDecodedLength"/> bytes, for a caller that reads the bytes once and keeps none of them.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<char> text, Span<byte> destination, out int written)
    {
        written = 0;
        return IsCanonical(text) && Base64Url.TryDecodeFromChars(text, destination, out written);
    }

    private static bool IsCanonical(ReadOnlySpan<char> text) =>
        text.IndexOfAnyExcept(Alphabet) < 0 && text.Length % 4 != 1 && (text.IsEmpty || HasZeroPadBits(text));

    private static bool HasZeroPadBits(ReadOnlySpan<char> text)
    {
        var last = Value(text[^1]);
        return (text.Length % 4) switch
        {
            2 => (last & 0x0F) == 0, // 1 byte in 2 chars: 4 spare bits
            3 => (last & 0x03) == 0, // 2 bytes in 3 chars: 2 spare bits
            _ => true,
        };
    }

    private static int Value(char c) => c switch
    {
        >= 'A' and <= 'Z' => c - 'A',
        >= 'a' and <= 'z' => c - 'a' + 26,
        >= '0' and <= '9' => c - '0' + 52,
        '-' => 62,
        _ => 63,
    };
}
