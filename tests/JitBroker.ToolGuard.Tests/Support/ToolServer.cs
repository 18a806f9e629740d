using System.Net;
using System.Security.Cryptography.X509Certificates;
using JitBroker.Testing;
using JitBroker.ToolGuard;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace JitBroker.ToolGuard.Tests.Support;

/// <summary>
/// A resource server on Kestrel loopback protected by ToolGuard, with the endpoints the tests call:
/// <c>GET /tickets/{id}</c> (tool zendesk, action tickets.read, resource tickets/{id}), <c>GET /github/{id}</c> (tool
/// github), <c>GET /plain</c> (any JitBroker token) and <c>POST /mcp</c> (a stand-in JSON-RPC MCP server behind the MCP guard).
/// </summary>
public sealed class ToolServer : IAsyncDisposable
{
    public const string Resource = "https://tickets.internal.example";
    public static readonly string[] McpTools = ["zendesk", "crm", "github"];

    private readonly WebApplication _app;

    private ToolServer(WebApplication app, string baseUrl, Outage outage)
    {
        _app = app;
        _outage = outage;
        BaseUrl = baseUrl;
    }

    /// <summary>http(s)://127.0.0.1:port — also the configured public base URL, so DPoP htu is built from it.</summary>
    public string BaseUrl { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>While set, the SET push endpoint answers 503 (a receiver outage; the broker must retry and catch up).</summary>
    public bool PushOutage { get => _outage.On; set => _outage.On = value; }

    private readonly Outage _outage;

    private sealed class Outage
    {
        public volatile bool On;
    }

    /// <param name="logs">Receives the server's log records (none are kept otherwise).</param>
    /// <param name="services">More registrations (e.g. an IDistributedCache).</param>
    public static Task<ToolServer> StartAsync(Action<ToolGuardOptions> configure, X509Certificate2? tlsCertificate = null, ILoggerProvider? logs = null,
        Action<IServiceCollection>? services = null) =>
        LoopbackPorts.StartOnFreePortAsync(port => StartAsync(configure, tlsCertificate, logs, services, port));

    private static async Task<ToolServer> StartAsync(Action<ToolGuardOptions> configure, X509Certificate2? tlsCertificate, ILoggerProvider? logs,
        Action<IServiceCollection>? services, int port)
    {
        var baseUrl = $"{(tlsCertificate is null ? "http" : "https")}://127.0.0.1:{port}";
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (logs is not null)
        {
            builder.Logging.AddProvider(logs);
        }

        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port, listen =>
        {
            if (tlsCertificate is not null)
            {
                listen.UseHttps(new HttpsConnectionAdapterOptions
                {
                    ServerCertificate = tlsCertificate,
                    ClientCertificateMode = ClientCertificateMode.AllowCertificate,
                    ClientCertificateValidation = (_, _, _) => true, // the binding check is ToolGuard's, not the chain
                });
            }
        }));
        builder.Services.AddJitBrokerToolGuard(o =>
        {
            o.Resource = Resource;
            o.PublicBaseUrl = baseUrl;
            o.AllowInsecureHttpForLoopback = true;
            o.Tools = [.. McpTools];
            o.Actions = ["tickets.read"];
            configure(o);
        });
        services?.Invoke(builder.Services);
        var app = builder.Build();
        var outage = new Outage();
        app.Use((http, next) =>
        {
            if (outage.On && http.Request.Path.StartsWithSegments("/.well-known/jitbroker/ssf-events", StringComparison.Ordinal))
            {
                http.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                return Task.CompletedTask;
            }

            return next(http);
        });
        app.UseAuthentication();
        app.UseJitBrokerMcpToolGuard("/mcp");
        app.UseAuthorization();
        app.MapJitBrokerProtectedResourceMetadata();
        app.MapJitBrokerSignalReceiver();
        app.MapGet("/tickets/{id}", (string id) => Results.Ok(new { ticket = id }))
            .RequireTool("zendesk").RequireAction("tickets.read").RequireResource("tickets/{id}");
        app.MapGet("/github/{id}", (string id) => Results.Ok(new { issue = id })).RequireTool("github");
        app.MapGet("/plain", () => Results.Ok(new { ok = true })).RequireJitBrokerToken();
        app.MapPost("/mcp", FakeMcpServer.HandleAsync).RequireJitBrokerToken();
        await app.StartAsync();
        return new ToolServer(app, baseUrl, outage);
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _app.StopAsync(timeout.Token);
        await _app.DisposeAsync();
    }
}

/// <summary>A minimal JSON-RPC MCP endpoint: tools/list answers all three tools (SSE when the client accepts only it), tools/call echoes.</summary>
internal static class FakeMcpServer
{
    public static async Task HandleAsync(HttpContext http)
    {
        using var json = await System.Text.Json.JsonDocument.ParseAsync(http.Request.Body);
        var method = json.RootElement.GetProperty("method").GetString();
        var id = json.RootElement.GetProperty("id").GetInt32();
        object result = method == "tools/list"
            ? new { tools = ToolServer.McpTools.Select(t => new { name = t, description = "the " + t + " tool", inputSchema = new { type = "object" } }) }
            : new { content = new[] { new { type = "text", text = "called " + json.RootElement.GetProperty("params").GetProperty("name").GetString() } } };
        var message = System.Text.Json.JsonSerializer.Serialize(new { jsonrpc = "2.0", id, result });
        if (http.Request.Headers.Accept.ToString().Contains("text/event-stream", StringComparison.Ordinal))
        {
            http.Response.ContentType = "text/event-stream";
            await http.Response.WriteAsync($"event: message\ndata: {message}\n\n");
            return;
        }

        http.Response.ContentType = "application/json";
        await http.Response.WriteAsync(message);
    }
}
