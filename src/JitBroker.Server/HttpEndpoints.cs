using JitBroker.Core;
using JitBroker.Issuance;

namespace JitBroker.Server;

/// <summary>Plain HTTP endpoints: the JWKS relying parties verify task JWTs with, probes, and metrics.</summary>
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
        });
        app.MapGet("/healthz", () => Results.Text("ok"));
        app.MapGet("/readyz", ReadyAsync);
        var exporter = app.Services.GetRequiredService<PrometheusExporter>();
        app.MapGet("/metrics", () => Results.Text(exporter.Scrape(), "text/plain; version=0.0.4; charset=utf-8"));
    }

    /// <summary>Ready only when every backend answers within a short bound; names the ones that do not.</summary>
    private static async Task<IResult> ReadyAsync(IEnumerable<IReadinessCheck> checks, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(2));
        var results = await Task.WhenAll(checks.Select(async c => (c.Name, Ready: await SafeAsync(c, timeout.Token))));
        var down = results.Where(r => !r.Ready).Select(r => r.Name).ToList();
        return down.Count == 0 ? Results.Text("ready") : Results.Text("not ready: " + string.Join(", ", down), statusCode: 503);
    }

    private static async Task<bool> SafeAsync(IReadinessCheck check, CancellationToken cancellationToken)
    {
        try
        {
            return await check.IsReadyAsync(cancellationToken);
        }
        catch (Exception)
        {
            return false;
        }
    }
}
