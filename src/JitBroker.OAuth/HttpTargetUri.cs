namespace JitBroker.OAuth;

/// <summary>
/// The comparison form of an HTTP target URI for DPoP's htu (RFC 9449 §4.3): query and fragment dropped, then
/// RFC 3986 §6.2.2 syntax-based and §6.2.3 scheme-based normalisation — scheme and host lowercase, the default port
/// elided, an empty path as "/", percent-encoding and dot segments normalised as <see cref="Uri"/> does for http(s).
/// </summary>
internal static class HttpTargetUri
{
    public const int MaxLength = 4096;

    /// <summary>The comparison form of an htu claim, or null when it is not an absolute http(s) URI written plainly.</summary>
    public static string? Normalise(string htu)
    {
        // Uri.TryCreate trims whitespace, turns '\' into '/' and reads "/x" as a file URI on Unix: refuse such text first.
        if (htu.Length is 0 or > MaxLength || htu.Any(c => c is <= ' ' or >= '\x7F' or '\\' or '"' or '<' or '>' or '^' or '`' or '{' or '|' or '}'))
        {
            return null;
        }

        return Uri.TryCreate(htu, UriKind.Absolute, out var uri) ? Normalise(uri) : null;
    }

    /// <summary>The comparison form of a request's target URI, or null when it is not absolute http(s).</summary>
    public static string? Normalise(Uri uri)
    {
        if (!uri.IsAbsoluteUri || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp) || uri.Host.Length == 0)
        {
            return null;
        }

        // Uri lowercases scheme and host and reports the scheme's default port as IsDefaultPort.
        var userInfo = uri.UserInfo.Length > 0 ? uri.UserInfo + "@" : "";
        var port = uri.IsDefaultPort ? "" : ":" + uri.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var path = uri.AbsolutePath.Length > 0 ? uri.AbsolutePath : "/";
        return $"{uri.Scheme}://{userInfo}{uri.Host.ToLowerInvariant()}{port}{path}";
    }
}
