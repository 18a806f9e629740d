using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace JitBroker.Server.Tests.Notifications;

/// <summary>One request the receiver got: when, its headers and its exact body bytes.</summary>
internal sealed record ReceivedWebhook(DateTimeOffset At, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public JsonElement Json => JsonDocument.Parse(Body).RootElement;

    public string Header(string name) => Headers.TryGetValue(name.ToLowerInvariant(), out var v) ? v : "";
}

/// <summary>
/// An in-test webhook receiver on Kestrel, loopback. <see cref="Respond"/> decides each answer from the attempt number
/// (1-based): a status code, or -1 to hang until the sender gives up. <c>/moved</c> answers a redirect to <c>/other</c>,
/// whose hits are counted apart.
/// </summary>
internal sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ReceivedWebhook> _received = new();

    private WebhookReceiver(WebApplication app) => _app = app;

    public string BaseUrl { get; private set; } = "";

    public string Url => BaseUrl + "/hook";

    public Func<int, int> Respond { get; set; } = _ => 200;

    public int OtherHits;

    public IReadOnlyList<ReceivedWebhook> Received => [.. _received];

    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var self = new WebhookReceiver(app);
        app.MapPost("/hook", async (HttpContext http) =>
        {
            using var buffer = new MemoryStream();
            await http.Request.Body.CopyToAsync(buffer);
            self._received.Enqueue(new ReceivedWebhook(TimeProvider.System.GetUtcNow(),
                http.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString()), buffer.ToArray()));
            var status = self.Respond(self._received.Count);
            if (status < 0)
            {
                await Task.Delay(Timeout.Infinite, http.RequestAborted);
            }

            return Results.StatusCode(status);
        });
        app.MapPost("/moved", () => Results.Redirect("/other", permanent: false, preserveMethod: true));
        app.MapPost("/other", () =>
        {
            Interlocked.Increment(ref self.OtherHits);
            return Results.Ok();
        });
        await app.StartAsync();
        self.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return self;
    }

    /// <summary>Waits until <paramref name="count"/> requests arrived (false after <paramref name="timeout"/>).</summary>
    public async Task<bool> WaitForAsync(int count, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (_received.Count < count && clock.Elapsed < timeout)
        {
            await Task.Delay(10);
        }

        return _received.Count >= count;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
