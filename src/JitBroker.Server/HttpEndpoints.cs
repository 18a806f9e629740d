using JitBroker.Core;
using JitBroker.Issuance;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OpenTelemetry.Metrics;

namespace JitBroker.Server;

/// <summary>
/// Plain HTTP endpoints on the HTTP listener: the JWKS relying parties verify task JWTs with, probes, and
/// metrics. Further HTTP endpoints (an OAuth front door) go here, beside the gRPC services.
/// </summary>
internal static class HttpEndpoints
{
    /// <summary>How long relying parties may cache the token JWKS (its Cache-Control max-age).</summary>
    public static readonly TimeSpan JwksCacheLifetime = TimeSpan.FromMinutes(5);

    public static void Map(WebApplication app, string issuerBasePath)
    {
        // Built per request: with scheduled rotation the key set changes (a next key announced, a retired one dropped).
        // max-age is the cache lifetime rotation publishes ahead of (SigningKey:RotationPublishAhead ≥ it).
        var tokenKeys = app.Services.GetRequiredService<ISigningKeyProvider>();
        IResult Jwks(HttpContext context)
        {
            context.Response.Headers.CacheControl = $"public, max-age={(int)JwksCacheLifetime.TotalSeconds}";
            return Results.Text(JwksDocument.Build(tokenKeys), "application/jwk-set+json");
        }

        // Also where the OAuth metadata's jwks_uri points: under the issuer's path, on the listeners the issuer is reached on.
        app.MapGet(OAuth.OAuthUrls.JwksPath, Jwks).OnlyOn(ListenerRole.Http, ListenerRole.OAuth);
        if (issuerBasePath.Length > 0)
        {
            app.MapGet(issuerBasePath + OAuth.OAuthUrls.JwksPath, Jwks).OnlyOn(ListenerRole.Http, ListenerRole.OAuth);
        }
        // The audit checkpoint key's public half, apart from the token JWKS: a relying party must never accept a
        // token signed with it, and an audit verifier must never accept a checkpoint signed with a token key.
        var auditJwks = JwksDocument.Build(app.Services.GetRequiredService<JitBroker.Audit.AuditSigningKeys>().Provider);
        app.MapGet("/.well-known/audit-jwks.json", () => Results.Text(auditJwks, "application/jwk-set+json")).OnlyOn(ListenerRole.Http);
        app.MapGet("/healthz", () => Results.Text("ok")).OnlyOn(ListenerRole.Http);
        // Ready only when every backend answers within a short bound; names the ones that do not.
        app.MapHealthChecks("/readyz", new HealthCheckOptions
        {
            Predicate = r => r.Tags.Contains(GrpcSetup.ReadyTag),
            ResponseWriter = (context, report) => context.Response.WriteAsync(report.Status == HealthStatus.Healthy
                ? "ready"
                : "not ready: " + string.Join(", ", report.Entries.Where(e => e.Value.Status != HealthStatus.Healthy)
                    .Select(e => e.Value.Description ?? e.Key))),
        }).OnlyOn(ListenerRole.Http);
        app.MapPrometheusScrapingEndpoint("/metrics").OnlyOn(ListenerRole.Http);
    }
}
