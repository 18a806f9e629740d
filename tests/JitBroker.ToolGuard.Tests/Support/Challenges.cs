using System.Net.Http.Headers;

namespace JitBroker.ToolGuard.Tests.Support;

internal static class Challenges
{
    /// <summary>Every WWW-Authenticate value as "scheme params".</summary>
    public static string[] Of(HttpResponseMessage response) => [.. response.Headers.WwwAuthenticate.Select(h => h.ToString())];

    public static string? Reason(HttpResponseMessage response) =>
        response.Headers.TryGetValues("jitbroker-reason", out var values) ? values.First() : null;

    public static HttpRequestMessage Get(string url, string? scheme = null, string? token = null, string? dpop = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue(scheme ?? "Bearer", token);
        }

        if (dpop is not null)
        {
            request.Headers.Add("DPoP", dpop);
        }

        return request;
    }
}
