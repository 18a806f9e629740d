using JitBroker.OAuth;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace JitBroker.ToolGuard;

/// <summary>RFC 9728 protected-resource metadata, the document every 401 points to (<c>resource_metadata</c>).</summary>
public static class ProtectedResourceMetadata
{
    /// <summary>
    /// Serves <c>GET /.well-known/oauth-protected-resource</c> (with the resource's path appended when it has one,
    /// RFC 9728 §3.1): <c>resource</c>, <c>authorization_servers</c>, <c>bearer_methods_supported</c>,
    /// <c>dpop_signing_alg_values_supported</c>, <c>dpop_bound_access_tokens_required</c> when configured, and
    /// <c>scopes_supported</c> from the configured actions and tools. Anonymous by design (§3).
    /// </summary>
    public static IEndpointConventionBuilder MapJitBrokerProtectedResourceMetadata(this IEndpointRouteBuilder endpoints)
    {
        var options = endpoints.ServiceProvider.GetRequiredService<IOptions<ToolGuardOptions>>().Value;
        return endpoints.MapGet(ToolGuardUrls.MetadataPath(options), (HttpContext http) =>
        {
            http.Response.Headers.CacheControl = "public, max-age=300";
            return Results.Json(Document(options));
        }).AllowAnonymous();
    }

    internal static Dictionary<string, object> Document(ToolGuardOptions options)
    {
        var document = new Dictionary<string, object>
        {
            ["resource"] = options.Resource,
            ["authorization_servers"] = new[] { options.Issuer },
            ["bearer_methods_supported"] = new[] { "header" },
            ["dpop_signing_alg_values_supported"] = DpopProofValidator.SupportedAlgorithms,
            ["scopes_supported"] = options.Actions.Concat(options.Tools.Select(t => "tool:" + t)).ToArray(),
        };
        if (options.DpopBoundTokensRequired)
        {
            document["dpop_bound_access_tokens_required"] = true;
        }

        return document;
    }
}
