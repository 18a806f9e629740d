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
    public static void Map(WebApplication app)
    {
        // Keys are fixed for the life of the process, so the document is built once, not per request.
        var jwks = JwksDocument.Build(app.Services.GetRequiredService<ISigningKeyProvider>());
        app.MapGet("/.well-known/jwks.json", (HttpContext context) =>
        {
            context.Response.Headers.CacheControl = "public, max-age=300";
            return Results.Text(jwks, "application/jwk-set+json");
        }).OnlyOn(ListenerRole.Http);
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
