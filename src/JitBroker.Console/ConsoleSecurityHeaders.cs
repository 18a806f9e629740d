using Microsoft.AspNetCore.Http;

namespace JitBroker.WebConsole;

/// <summary>
/// Headers on every console response, redirects and errors included: a CSP with no script at all (the pages have none),
/// no framing, no MIME sniffing, no referrer (approval ids in URLs stay here), and no caching of pages that show approvals.
/// </summary>
internal sealed class ConsoleSecurityHeaders(string identityProviderOrigin)
{
    private readonly string _csp = "default-src 'none'; style-src 'self'; img-src 'self' data:; " +
        $"form-action 'self' {identityProviderOrigin}; frame-ancestors 'none'; base-uri 'none'";

    public static string OriginOf(string authority)
    {
        var uri = new Uri(authority);
        return uri.GetLeftPart(UriPartial.Authority);
    }

    public void Apply(HttpResponse response)
    {
        var headers = response.Headers;
        headers.ContentSecurityPolicy = _csp;
        headers.XFrameOptions = "DENY";
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
        headers.CacheControl = "no-store";
    }
}
