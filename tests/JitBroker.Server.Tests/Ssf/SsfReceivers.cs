using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace JitBroker.Server.Tests.Ssf;

/// <summary>The independent receiver: tests/JitBroker.Server.Tests/interop/ssf_receiver.py on python3-jwt, in its own process.</summary>
internal sealed class PythonSetReceiver : IAsyncDisposable
{
    private readonly Process _process;
    private readonly HttpClient _http = new();

    private PythonSetReceiver(Process process, int port)
    {
        _process = process;
        Url = $"http://127.0.0.1:{port}/events";
    }

    public string Url { get; }

    public static async Task<PythonSetReceiver> StartAsync(string jwks, string issuer, string audience)
    {
        var script = Path.Combine(NUnit.Framework.TestContext.CurrentContext.TestDirectory, "interop", "ssf_receiver.py");
        var start = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { script, "--jwks", jwks, "--issuer", issuer, "--audience", audience })
        {
            start.ArgumentList.Add(a);
        }

        var process = Process.Start(start)!;
        var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(20));
        return int.TryParse(line, out var port) ? new PythonSetReceiver(process, port)
            : throw new InvalidOperationException("ssf_receiver.py did not start (is python3-jwt installed?): " + await process.StandardError.ReadToEndAsync());
    }

    public async Task<JsonElement> StateAsync() => JsonDocument.Parse(await _http.GetStringAsync(Url)).RootElement.Clone();

    public async Task SetModeAsync(string mode) =>
        (await _http.PostAsync(Url.Replace("/events", "/control", StringComparison.Ordinal), new StringContent($"{{\"mode\":\"{mode}\"}}"))).EnsureSuccessStatusCode();

    /// <summary>The accepted events about <paramref name="jti"/> (the revoked credential), waiting up to <paramref name="timeout"/> for one.</summary>
    public async Task<JsonElement?> WaitForAsync(string jti, TimeSpan timeout)
    {
        var until = Stopwatch.StartNew();
        while (until.Elapsed < timeout)
        {
            foreach (var e in (await StateAsync()).GetProperty("events").EnumerateArray())
            {
                if (e.GetProperty("sub_id").TryGetProperty("jti", out var j) && j.GetString() == jti)
                {
                    return e;
                }
            }

            await Task.Delay(10);
        }

        return null;
    }

    public async ValueTask DisposeAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
        _http.Dispose();
    }
}

/// <summary>An in-test .NET push receiver whose behaviour the test switches: accept (verifying like a tool would), 500, hang, redirect.</summary>
internal sealed class DotnetSetReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly List<JsonWebToken> _accepted = [];
    private readonly Lock _gate = new();

    private DotnetSetReceiver(WebApplication app, string url)
    {
        _app = app;
        Url = url;
    }

    public string Url { get; }

    public volatile string Mode = "ok";

    public int Attempts;

    private IList<SecurityKey> _keys = [];

    /// <summary>The broker's JWKS; its keys are built once (as a tool caches them), not per SET.</summary>
    public JsonWebKeySet? Keys { set => _keys = value!.GetSigningKeys(); }

    public string? Audience { get; set; }

    public IReadOnlyList<JsonWebToken> Accepted
    {
        get
        {
            lock (_gate)
            {
                return [.. _accepted];
            }
        }
    }

    public static async Task<DotnetSetReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        DotnetSetReceiver? self = null;
        app.MapPost("/events", async (HttpContext http) =>
        {
            Interlocked.Increment(ref self!.Attempts);
            switch (self.Mode)
            {
                case "500":
                    return Results.StatusCode(500);
                case "hang":
                    await Task.Delay(TimeSpan.FromSeconds(30), http.RequestAborted);
                    return Results.StatusCode(202);
                case "redirect":
                    return Results.Redirect("http://127.0.0.1:1/elsewhere");
            }

            var token = await new StreamReader(http.Request.Body, Encoding.ASCII).ReadToEndAsync();
            var result = await new JsonWebTokenHandler().ValidateTokenAsync(token, new TokenValidationParameters
            {
                IssuerSigningKeys = self._keys, ValidAudience = self.Audience, ValidateIssuer = false, RequireExpirationTime = false,
                ValidateLifetime = false, ValidTypes = ["secevent+jwt"],
            });
            if (!result.IsValid || http.Request.ContentType != "application/secevent+jwt")
            {
                return Results.Json(new { err = "invalid_request", description = result.Exception?.Message }, statusCode: 400);
            }

            lock (self._gate)
            {
                self._accepted.Add((JsonWebToken)result.SecurityToken);
            }

            return Results.StatusCode(202);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        self = new DotnetSetReceiver(app, address + "/events");
        return self;
    }

    public async Task<bool> WaitForAsync(Func<JsonWebToken, bool> match, TimeSpan timeout)
    {
        var until = Stopwatch.StartNew();
        while (until.Elapsed < timeout)
        {
            if (Accepted.Any(match))
            {
                return true;
            }

            await Task.Delay(10);
        }

        return false;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

internal static class SsfCalls
{
    public static async Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> SendAsync(HttpClient http, HttpMethod method, string url,
        string? bearer, object? body)
    {
        using var request = new HttpRequestMessage(method, url);
        if (bearer is not null)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
        }

        if (body is not null)
        {
            request.Content = new StringContent(body as string ?? JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
        }

        var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone(), response);
    }
}
