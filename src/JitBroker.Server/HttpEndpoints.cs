using JitBroker.Issuance;

namespace JitBroker.Server;

/// <summary>Plain HTTP endpoints: the JWKS relying parties verify task JWTs with, and probes.</summary>
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
        app.MapGet("/readyz", () => Results.Text("ready"));
    }
}
