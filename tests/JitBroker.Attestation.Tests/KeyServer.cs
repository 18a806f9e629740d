using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace JitBroker.Attestation.Tests;

/// <summary>
/// A real Kestrel server on 127.0.0.1 (ephemeral port) serving whatever documents a test puts at a path:
/// SPIFFE bundles, discovery documents, JWKS. Counts requests per path and remembers the last
/// Authorization header, so tests can prove how often (and how) the attestors fetch.
/// </summary>
public sealed class KeyServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, (int Status, string Body)> _documents = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _hits = new(StringComparer.Ordinal);
    private bool _stopped;

    private KeyServer(WebApplication app) => _app = app;

    public Uri BaseUri { get; private set; } = null!;

    /// <summary>The base URL without a trailing slash, for example <c>http://127.0.0.1:41234</c>.</summary>
    public string Origin => BaseUri.GetLeftPart(UriPartial.Authority);

    public string? LastAuthorization { get; private set; }

    public static async Task<KeyServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var server = new KeyServer(app);
        app.Run(server.HandleAsync);
        await app.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        server.BaseUri = new Uri(address);
        return server;
    }

    public string Url(string path) => Origin + path;

    public void Serve(string path, string body, int status = 200) => _documents[path] = (status, body);

    public int Hits(string path) => _hits.GetValueOrDefault(path);

    /// <summary>Takes the endpoint down: connections are refused from now on.</summary>
    public async Task StopAsync()
    {
        if (!_stopped)
        {
            _stopped = true;
            await _app.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "/";
        _hits.AddOrUpdate(path, 1, (_, n) => n + 1);
        LastAuthorization = context.Request.Headers.Authorization.ToString() is { Length: > 0 } auth ? auth : null;
        if (!_documents.TryGetValue(path, out var document))
        {
            context.Response.StatusCode = 404;
            return;
        }

        context.Response.StatusCode = document.Status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(document.Body);
    }
}
