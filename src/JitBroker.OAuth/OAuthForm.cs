using System.Collections.ObjectModel;
using System.Text;

namespace JitBroker.OAuth;

/// <summary>
/// An <c>application/x-www-form-urlencoded</c> request body parsed strictly (RFC 6749 §3.1, §3.2; WHATWG urlencoded
/// for '+' and %XX). Anything ambiguous is refused with <see cref="OAuthErrors.InvalidRequest"/> rather than guessed at:
/// invalid percent-encoding, malformed UTF-8 after decoding (overlong forms and surrogates included), any control
/// character, an empty name, more than <see cref="MaxParameters"/> parameters, a name or value over
/// <see cref="MaxParameterBytes"/>, a parameter sent twice unless its name is <c>repeatable</c>.
/// A parameter sent with an empty value is treated as omitted (RFC 6749 §3.1). Names are case-sensitive.
/// </summary>
public sealed class OAuthForm
{
    public const int MaxBodyBytes = 64 * 1024;
    public const int MaxParameters = 64;
    public const int MaxParameterBytes = 16 * 1024;

    // Decoding throws on invalid sequences instead of substituting U+FFFD, so "%C3%28" cannot become a valid value.
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly Dictionary<string, List<string>> _values;

    private OAuthForm(Dictionary<string, List<string>> values) => _values = values;

    /// <summary>Parses <paramref name="body"/>; throws <see cref="OAuthProtocolException"/> (invalid_request) on any violation.</summary>
    /// <param name="repeatable">Names that may be sent more than once (the broker passes "resource", RFC 8707 §2).</param>
    public static OAuthForm Parse(ReadOnlySpan<byte> body, params string[] repeatable)
    {
        if (body.Length > MaxBodyBytes)
        {
            throw Refuse(OAuthReasons.FormTooLarge, $"the request body is over {MaxBodyBytes} bytes");
        }

        var values = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var count = 0;
        var scratch = new byte[Math.Min(body.Length, MaxParameterBytes)];
        while (!body.IsEmpty)
        {
            var end = body.IndexOf((byte)'&');
            var pair = end < 0 ? body : body[..end];
            body = end < 0 ? [] : body[(end + 1)..];
            if (pair.IsEmpty)
            {
                continue; // "a=1&&b=2": WHATWG skips empty sequences; nothing is lost or guessed
            }

            if (++count > MaxParameters)
            {
                throw Refuse(OAuthReasons.FormTooManyParameters, $"more than {MaxParameters} parameters");
            }

            var equals = pair.IndexOf((byte)'=');
            var name = Decode(equals < 0 ? pair : pair[..equals], scratch);
            var value = equals < 0 ? "" : Decode(pair[(equals + 1)..], scratch);
            if (name.Length == 0)
            {
                throw Refuse(OAuthReasons.FormEmptyName, "a parameter has an empty name");
            }

            if (value.Length == 0)
            {
                continue; // RFC 6749 §3.1: sent without a value = omitted
            }

            if (!values.TryGetValue(name, out var list))
            {
                values[name] = [value];
            }
            else if (Array.IndexOf(repeatable, name) >= 0)
            {
                list.Add(value);
            }
            else
            {
                throw Duplicate(name);
            }
        }

        return new OAuthForm(values);
    }

    /// <summary>
    /// The parameter's value, or null when absent (or sent empty). For a repeatable name sent more than once this
    /// throws invalid_request: a caller reading one value must not silently drop the others; use <see cref="All"/>.
    /// </summary>
    public string? this[string name] => _values.TryGetValue(name, out var list)
        ? list.Count == 1 ? list[0] : throw Duplicate(name)
        : null;

    /// <summary>Every value of the parameter in the order sent; empty when absent.</summary>
    public IReadOnlyList<string> All(string name) => _values.TryGetValue(name, out var list) ? list.AsReadOnly() : ReadOnlyCollection<string>.Empty;

    /// <summary>The names present with a non-empty value.</summary>
    public IEnumerable<string> Names => _values.Keys;

    private static string Decode(ReadOnlySpan<byte> encoded, byte[] scratch)
    {
        var length = 0;
        for (var i = 0; i < encoded.Length; i++)
        {
            int b = encoded[i];
            if (b == '+')
            {
                b = ' ';
            }
            else if (b == '%')
            {
                var hi = i + 2 < encoded.Length ? HexValue(encoded[i + 1]) : -1;
                var lo = i + 2 < encoded.Length ? HexValue(encoded[i + 2]) : -1;
                if (hi < 0 || lo < 0)
                {
                    throw Refuse(OAuthReasons.FormBadPercentEncoding, "a '%' is not followed by two hexadecimal digits");
                }

                b = (hi << 4) | lo;
                i += 2;
            }

            if (length == MaxParameterBytes)
            {
                throw Refuse(OAuthReasons.FormParameterTooLong, $"a parameter name or value is over {MaxParameterBytes} bytes");
            }

            scratch[length++] = (byte)b;
        }

        string text;
        try
        {
            text = StrictUtf8.GetString(scratch, 0, length);
        }
        catch (DecoderFallbackException)
        {
            throw Refuse(OAuthReasons.FormBadUtf8, "a parameter is not valid UTF-8 after percent-decoding");
        }

        foreach (var c in text)
        {
            if (char.IsControl(c))
            {
                throw Refuse(OAuthReasons.FormControlCharacter, "a parameter contains a control character");
            }
        }

        return text;
    }

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        _ => -1,
    };

    private static OAuthProtocolException Duplicate(string name) => Refuse(OAuthReasons.FormDuplicateParameter,
        $"parameter {(IsPrintableAscii(name) ? name : "?")} is included more than once (RFC 6749 section 3.1)");

    private static bool IsPrintableAscii(string s) => s.Length <= 64 && s.All(c => c is > ' ' and < '\x7F');

    private static OAuthProtocolException Refuse(string reason, string description) =>
        new(OAuthErrors.InvalidRequest, reason, description);
}
