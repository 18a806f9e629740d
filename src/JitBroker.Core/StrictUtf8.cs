using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace JitBroker.Core;

/// <summary>
/// Strict reading of untrusted UTF-8 (tokens, offers, remote JSON, files). .NET's default decoders
/// either throw deep inside a parser (<see cref="JsonElement.GetString"/>: an unexpected
/// <see cref="InvalidOperationException"/>, so an INTERNAL answer) or silently turn invalid bytes into
/// U+FFFD (<see cref="Encoding.UTF8"/>), so two different byte strings read as the same text. Callers
/// check here first and turn a false into a refusal with their own reason code.
/// </summary>
public static class StrictUtf8
{
    /// <summary>UTF-8 that throws <see cref="DecoderFallbackException"/> on invalid bytes instead of replacing them.</summary>
    public static readonly UTF8Encoding Encoding = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// True when <paramref name="json"/> is strictly well-formed UTF-8 (no invalid or truncated sequences,
    /// no overlong encodings, no encoded surrogates) and no string or member name escapes a lone UTF-16
    /// surrogate (<c>"\ud800"</c>). After this, no <see cref="JsonElement.GetString"/> or
    /// <see cref="JsonProperty.Name"/> of the document can throw. Structural JSON errors are not judged
    /// here: the parser reports those.
    /// </summary>
    public static bool IsJsonText(ReadOnlySpan<byte> json)
    {
        if (!Utf8.IsValid(json))
        {
            return false;
        }

        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 256 });
        Span<char> scratch = stackalloc char[256];
        try
        {
            while (reader.Read())
            {
                // Once the bytes are valid UTF-8, only an escape can still spell an invalid UTF-16 string.
                if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName && reader.ValueIsEscaped)
                {
                    var length = reader.HasValueSequence ? reader.ValueSequence.Length : reader.ValueSpan.Length;
                    if (length <= scratch.Length)
                    {
                        reader.CopyString(scratch);
                    }
                    else
                    {
                        _ = reader.GetString();
                    }
                }
            }
        }
        catch (InvalidOperationException)
        {
            return false;
        }
        catch (JsonException)
        {
            // Not well-formed JSON: the caller's parser says so in its own words.
        }

        return true;
    }

    /// <summary>
    /// True when <paramref name="text"/> is well-formed UTF-16 without U+FFFD: no unpaired surrogate, and no
    /// replacement character, which is what a lenient decoder (Google.Protobuf's, <see cref="System.Text.Encoding.UTF8"/>)
    /// leaves where the caller sent bytes that were not UTF-8. Such a string is not what the caller sent, and two
    /// different byte strings read as the same one, so it is refused rather than matched against policy.
    /// </summary>
    public static bool IsFaithfulText(ReadOnlySpan<char> text)
    {
        foreach (var rune in text.EnumerateRunes())
        {
            if (rune == Rune.ReplacementChar)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Decodes <paramref name="bytes"/>; false (and no text) when they are not strictly valid UTF-8.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> bytes, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? text)
    {
        if (!Utf8.IsValid(bytes))
        {
            text = null;
            return false;
        }

        text = Encoding.GetString(bytes);
        return true;
    }
}
