using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using JitBroker.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace JitBroker.ToolGuard.Tests.Support;

/// <summary>An in-test stand-in for the broker's <c>POST /tool-uses</c>: records every batch and the client assertion it carried.</summary>
public sealed class UseRecordingServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private UseRecordingServer(WebApplication app, string url)
    {
        _app = app;
        Url = url;
    }

    public string Url { get; }

    public ConcurrentQueue<(string? Assertion, JsonElement Body)> Batches { get; } = new();

    public IEnumerable<JsonElement> Uses => Batches.SelectMany(b => b.Body.GetProperty("uses").EnumerateArray());

    /// <summary>Set to make the server slow (to fill the tool's buffer) or failing.</summary>
    public TimeSpan Delay { get; set; }

    public static Task<UseRecordingServer> StartAsync() => LoopbackPorts.StartOnFreePortAsync(StartAsync);

    private static async Task<UseRecordingServer> StartAsync(int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        var server = new UseRecordingServer(app, $"http://127.0.0.1:{port}/tool-uses");
        app.MapPost("/tool-uses", async (HttpContext http) =>
        {
            using var json = await JsonDocument.ParseAsync(http.Request.Body);
            var body = json.RootElement.Clone();
            var assertion = body.TryGetProperty("client_assertion_type", out var type) && type.GetString() == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
                && body.TryGetProperty("client_assertion", out var value) ? value.GetString() : null;
            server.Batches.Enqueue((assertion, body));
            if (server.Delay > TimeSpan.Zero)
            {
                await Task.Delay(server.Delay);
            }

            return Results.Accepted();
        });
        await app.StartAsync();
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
