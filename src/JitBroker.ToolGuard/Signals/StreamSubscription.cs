using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace JitBroker.ToolGuard;

/// <summary>
/// Keeps this tool subscribed: at start-up and every <see cref="SignalReceiverOptions.VerificationInterval"/> it reads the
/// broker's SSF configuration, creates its push stream for its audiences (or updates the one already delivering to its
/// URL — a restarted tool keeps its stream and whatever was queued for it), then asks the broker for a verification event.
/// Authenticated as the tool itself: <c>Authorization: Bearer</c> + <see cref="ToolGuardOptions.WorkloadToken"/>, the token
/// introspection and use reports use. A failure is logged and retried next interval; push is then not healthy and
/// introspection keeps its short cache.
/// </summary>
internal sealed partial class StreamSubscription(
    IOptions<ToolGuardOptions> options, IHttpClientFactory http, PushHealth health, TimeProvider time, ILogger<StreamSubscription> logger)
    : BackgroundService
{
    private const string PushMethod = "urn:ietf:rfc:8935";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        if (!o.Signals.Enabled)
        {
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await SubscribeAsync(o, stoppingToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                LogSubscribeFailed(logger, e);
            }

            try
            {
                await Task.Delay(o.Signals.VerificationInterval, time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>The delivery URL registered at the broker.</summary>
    public static string PushUrl(ToolGuardOptions o) =>
        new Uri(new Uri((o.PublicBaseUrl ?? new Uri(o.Resource).GetLeftPart(UriPartial.Authority)).TrimEnd('/') + "/"), o.Signals.Path.TrimStart('/')).AbsoluteUri;

    internal async Task SubscribeAsync(ToolGuardOptions o, CancellationToken cancellationToken = default)
    {
        using var client = http.CreateClient(UseReportSender.HttpClientName);
        var configuration = await GetJsonAsync(client, o, HttpMethod.Get, ConfigurationUrl(o), null, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException("the broker serves no SSF configuration");
        var streams = Url(configuration, "configuration_endpoint");
        var pushUrl = PushUrl(o);
        var audiences = o.Signals.Audiences.Count > 0 ? o.Signals.Audiences : [o.Resource];
        var existing = await GetJsonAsync(client, o, HttpMethod.Get, streams, null, cancellationToken).ConfigureAwait(false);
        var mine = existing is { ValueKind: JsonValueKind.Array } list
            ? list.EnumerateArray().FirstOrDefault(s => s.TryGetProperty("delivery", out var d) && d.TryGetProperty("endpoint_url", out var u) && u.GetString() == pushUrl)
            : default;
        var request = new Dictionary<string, object>
        {
            ["delivery"] = new Dictionary<string, string> { ["method"] = PushMethod, ["endpoint_url"] = pushUrl },
            ["events_requested"] = new[] { SetEvents.SessionRevoked },
            ["aud"] = audiences,
            ["description"] = "JitBroker ToolGuard " + o.Resource,
        };
        if (mine.ValueKind == JsonValueKind.Object)
        {
            request["stream_id"] = mine.GetProperty("stream_id").GetString()!;
        }

        var stream = await GetJsonAsync(client, o, mine.ValueKind == JsonValueKind.Object ? HttpMethod.Patch : HttpMethod.Post, streams, request, cancellationToken)
            .ConfigureAwait(false) ?? throw new InvalidOperationException("the broker returned no stream");
        var streamId = stream.GetProperty("stream_id").GetString()!;
        var state = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        health.Expect(streamId, state);
        await GetJsonAsync(client, o, HttpMethod.Post, Url(configuration, "verification_endpoint"),
            new Dictionary<string, string> { ["stream_id"] = streamId, ["state"] = state }, cancellationToken).ConfigureAwait(false);
        LogSubscribed(logger, streamId, pushUrl);
    }

    private static string ConfigurationUrl(ToolGuardOptions o)
    {
        if (o.Signals.ConfigurationUrl is { } url)
        {
            return url;
        }

        var issuer = new Uri(o.Issuer);
        return issuer.GetLeftPart(UriPartial.Authority) + "/.well-known/ssf-configuration" + issuer.AbsolutePath.TrimEnd('/');
    }

    private static string Url(JsonElement configuration, string name) =>
        configuration.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String && Uri.TryCreate(v.GetString(), UriKind.Absolute, out var u)
            ? u.AbsoluteUri
            : throw new InvalidOperationException($"the SSF configuration has no usable {name}");

    /// <summary>One call; the parsed JSON answer (null for 204), or an exception naming the status for anything but 2xx.</summary>
    private static async Task<JsonElement?> GetJsonAsync(HttpClient client, ToolGuardOptions o, HttpMethod method, string url, object? body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, url) { Content = body is null ? null : JsonContent.Create(body) };
        if (o.WorkloadToken is { } workloadToken)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await workloadToken(cancellationToken).ConfigureAwait(false));
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(o.Introspection.Timeout);
        using var response = await client.SendAsync(request, timeout.Token).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            var reason = response.Headers.TryGetValues("jitbroker-reason", out var r) ? " " + r.First() : "";
            throw new InvalidOperationException($"{method} {new Uri(url).AbsolutePath}: HTTP {(int)response.StatusCode}{reason}");
        }

        if (response.Content.Headers.ContentLength == 0 || response.StatusCode == System.Net.HttpStatusCode.NoContent)
        {
            return null;
        }

        using var json = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false), cancellationToken: timeout.Token)
            .ConfigureAwait(false);
        return json.RootElement.Clone();
    }

    [LoggerMessage(EventId = 4354, EventName = "ToolGuardStreamSubscribed", Level = LogLevel.Information,
        Message = "Subscribed to the broker's revocation events: stream {StreamId}, pushed to {PushUrl}; verification requested")]
    private static partial void LogSubscribed(ILogger logger, string streamId, string pushUrl);

    [LoggerMessage(EventId = 4355, EventName = "ToolGuardStreamSubscribeFailed", Level = LogLevel.Warning,
        Message = "Could not subscribe to the broker's revocation events; introspection keeps its short cache until the next attempt")]
    private static partial void LogSubscribeFailed(ILogger logger, Exception exception);
}
