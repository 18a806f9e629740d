namespace JitBroker.OAuth;

/// <summary>
/// RFC 8707 §2: a resource is an absolute URI (RFC 3986 §4.3) without a fragment. Checked on the text first because
/// <see cref="Uri.TryCreate(string, UriKind, out Uri)"/> is lenient in ways an audience must not be: it trims
/// whitespace, turns '\' into '/', and on Unix reads "/path" as an absolute file URI.
/// </summary>
internal static class ResourceUri
{
    public const int MaxLength = 2048;

    public static bool IsValid(string value)
    {
        if (value.Length is 0 or > MaxLength || !char.IsAsciiLetter(value[0]))
        {
            return false;
        }

        var colon = value.IndexOf(':', StringComparison.Ordinal);
        if (colon < 1 || !value.AsSpan(0, colon).ContainsOnlyAsciiSchemeChars())
        {
            return false;
        }

        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '%')
            {
                if (i + 2 >= value.Length || !char.IsAsciiHexDigit(value[i + 1]) || !char.IsAsciiHexDigit(value[i + 2]))
                {
                    return false;
                }
            }
            else if (!IsUriChar(c))
            {
                return false;
            }
        }

        return Uri.TryCreate(value, UriKind.Absolute, out _);
    }

    // RFC 3986 unreserved / reserved, without '#' (no fragment).
    private static bool IsUriChar(char c) =>
        char.IsAsciiLetterOrDigit(c) || "-._~:/?[]@!$&'()*+,;=".Contains(c, StringComparison.Ordinal);

    private static bool ContainsOnlyAsciiSchemeChars(this ReadOnlySpan<char> scheme)
    {
        foreach (var c in scheme)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('+' or '-' or '.'))
            {
                return false;
            }
        }

        return true;
    }
}
