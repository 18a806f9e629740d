using System.Net;
using System.Text.RegularExpressions;
using JitBroker.Server;
using JitBroker.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace JitBroker.Console.Tests;

/// <summary>
/// A real embedded broker with the console on its loopback <c>Listen:Console</c> port, signing people in at a
/// <see cref="TestOpenIdProvider"/>. Approvers: the group <c>approvers</c>; operators: the group <c>operators</c>.
/// </summary>
public sealed class ConsoleBroker : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _dataDirectory;

    private ConsoleBroker(WebApplication app, string dataDirectory, TestOpenIdProvider provider)
    {
        _app = app;
        _dataDirectory = dataDirectory;
        Provider = provider;
        Endpoints = app.Services.GetRequiredService<BoundEndpoints>();
    }

    public TestOpenIdProvider Provider { get; }

    public BoundEndpoints Endpoints { get; }

    public Uri ConsoleUri => Endpoints.ConsoleUri!;

    public IServiceProvider Services => _app.Services;

    /// <param name="consolePort">The console's port (PublicBaseUrl names it); a free one when not given (retried on another when taken before the broker binds it).</param>
    public static Task<ConsoleBroker> StartAsync(IDictionary<string, string?>? overrides = null, int? consolePort = null) =>
        consolePort is { } port ? StartOnAsync(overrides, port) : LoopbackPorts.StartOnFreePortAsync(free => StartOnAsync(overrides, free));

    private static async Task<ConsoleBroker> StartOnAsync(IDictionary<string, string?>? overrides, int consolePort)
    {
        var provider = await TestOpenIdProvider.StartAsync();
        var dataDirectory = Directory.CreateTempSubdirectory("jitbroker-console-").FullName;
        var settings = new Dictionary<string, string?>
        {
            ["JitBroker:Profile"] = "embedded",
            ["JitBroker:DataDirectory"] = dataDirectory,
            ["JitBroker:Listen:Grpc"] = "127.0.0.1:0",
            ["JitBroker:Listen:Http"] = "127.0.0.1:0",
            ["JitBroker:Listen:Admin"] = "127.0.0.1:0",
            ["JitBroker:Listen:Console"] = $"127.0.0.1:{consolePort}",
            ["JitBroker:Console:Enabled"] = "true",
            ["JitBroker:Console:PublicBaseUrl"] = $"http://127.0.0.1:{consolePort}",
            ["JitBroker:Console:Oidc:Authority"] = provider.Issuer,
            ["JitBroker:Console:Oidc:ClientId"] = TestOpenIdProvider.ClientId,
            ["JitBroker:Console:Oidc:RequireHttpsMetadata"] = "false",
            ["JitBroker:Console:Approvers:0:Group"] = "approvers",
            ["JitBroker:Console:Operators:0:Group"] = "operators",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        Override(settings, overrides);
        var app = BrokerHost.Build([], config => config.AddInMemoryCollection(settings));
        try
        {
            await app.StartAsync();
        }
        catch
        {
            // Clean up what was started even if the host's own disposal throws; the start's failure is what the test sees.
            try
            {
                await app.DisposeAsync();
            }
            catch (Exception disposeFailure)
            {
                TestContext.Progress.WriteLine($"Disposing the broker that failed to start threw too: {disposeFailure.Message}");
            }
            finally
            {
                await provider.DisposeAsync();
                Directory.Delete(dataDirectory, recursive: true);
            }

            throw;
        }

        return new ConsoleBroker(app, dataDirectory, provider);
    }

    /// <summary>Applies <paramref name="overrides"/>: a null value removes the key (e.g. the loopback console listener, for the TLS admin listener).</summary>
    public static void Override(Dictionary<string, string?> settings, IDictionary<string, string?>? overrides)
    {
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                settings.Remove(key);
            }
            else
            {
                settings[key] = value;
            }
        }
    }

    /// <summary>A browser-like client: its own cookie jar, redirects followed by hand so tests can look at each hop.</summary>
    public ConsoleClient NewClient() => new(ConsoleUri);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
        finally
        {
            // The sign-in provider and the data directory go even when the broker's stop throws (it is rethrown).
            await Provider.DisposeAsync();
            Directory.Delete(_dataDirectory, recursive: true);
        }
    }
}

/// <summary>An HTTP client with a cookie jar that signs in by following the OIDC redirects as a browser would.</summary>
public sealed partial class ConsoleClient : IDisposable
{
    private readonly HttpClient _http;

    public ConsoleClient(Uri consoleUri)
    {
        Cookies = new CookieContainer();
        _http = new HttpClient(new HttpClientHandler { CookieContainer = Cookies, AllowAutoRedirect = false }) { BaseAddress = consoleUri };
    }

    public CookieContainer Cookies { get; }

    public Task<HttpResponseMessage> GetAsync(string path) => _http.GetAsync(path);

    public Task<HttpResponseMessage> PostAsync(string path, IDictionary<string, string> form) =>
        _http.PostAsync(path, new FormUrlEncodedContent(form));

    /// <summary>GETs <paramref name="path"/> and follows redirects (through the provider and back); returns the last response.</summary>
    public async Task<HttpResponseMessage> FollowAsync(HttpResponseMessage response, int maxHops = 6)
    {
        for (var hop = 0; hop < maxHops && response.StatusCode is HttpStatusCode.Found or HttpStatusCode.Redirect or HttpStatusCode.SeeOther; hop++)
        {
            var location = response.Headers.Location!;
            response = await _http.GetAsync(location.IsAbsoluteUri ? location : new Uri(_http.BaseAddress!, location));
        }

        return response;
    }

    public async Task<HttpResponseMessage> SignInAndGetAsync(string path) => await FollowAsync(await _http.GetAsync(path));

    /// <summary>The anti-forgery token of the first form on the page.</summary>
    public static string AntiforgeryToken(string html) =>
        TokenInput().Match(html) is { Success: true } m ? WebUtility.HtmlDecode(m.Groups[1].Value) : throw new InvalidOperationException("No anti-forgery token on the page.");

    public void Dispose() => _http.Dispose();

    [GeneratedRegex("name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]+)\"")]
    private static partial Regex TokenInput();
}
