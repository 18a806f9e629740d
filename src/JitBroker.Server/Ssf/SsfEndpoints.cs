using System.Text.Json;
using JitBroker.Core;
using JitBroker.Issuance;
using JitBroker.Server.OAuth;

namespace JitBroker.Server.Ssf;

/// <summary>
/// The Shared Signals transmitter's HTTP surface (docs/ssf.md), on the OAuth door's listeners: the SSF configuration
/// metadata, and the configuration, status and verification endpoints for authenticated receivers. Every refusal is JSON
/// <c>{"error", "error_description"}</c> with the stable reason in the <c>jitbroker-reason</c> header, as the OAuth door's.
/// </summary>
internal static class SsfEndpoints
{
    public const string StreamsPath = "/ssf/streams";
    public const string StatusPath = "/ssf/status";
    public const string VerifyPath = "/ssf/verify";

    public static void Add(IServiceCollection services, JitBrokerSettings settings)
    {
        if (!settings.Ssf.Enabled)
        {
            return;
        }

        services.AddSingleton(settings.Ssf);
        services.AddSingleton<SignalDeliveryWakeup>();
        services.AddSingleton<ISignalOutbox>(sp => settings.Leases.Store == LeaseStoreSettings.Redis
            ? new RedisSignalOutbox(sp.GetRequiredService<JitBroker.Redis.IRedisConnection>(), settings.Redis.KeyPrefix)
            : new InMemorySignalOutbox());
        services.AddSingleton<IRevocationSignals, SignalFanout>();
        services.AddSingleton(sp => new SecurityEventTokens(sp.GetRequiredService<ISigningKeyProvider>(), settings.Issuer.Issuer));
        services.AddSingleton<SsfMetrics>();
        services.AddSingleton(_ => new SetPusher(new HttpClient(new SocketsHttpHandler
        {
            // Never follow a redirect: the receiver registered its URL, and a redirect could aim the broker anywhere.
            AllowAutoRedirect = false, UseCookies = false, PooledConnectionLifetime = TimeSpan.FromMinutes(5), ConnectTimeout = settings.Ssf.PushTimeout,
        }) { Timeout = Timeout.InfiniteTimeSpan }, settings.Ssf.PushTimeout));
        services.AddSingleton(sp => new SsfReceivers(sp.GetRequiredService<JitBroker.Core.Handlers.AgentAdmission>(), settings.Ssf,
            [.. new[] { settings.Attestation.JwtSvid?.Audience, settings.Issuer.Issuer }
                .Concat(settings.Attestation.Oidc?.Issuers.Select(i => i.Audience) ?? []).Where(a => !string.IsNullOrEmpty(a)).Select(a => a!).Distinct(StringComparer.Ordinal)]));
        services.AddSingleton<StreamManagement>();
        services.AddSingleton<ReceiverStatus>();
        services.AddHostedService<SignalDeliveryService>();
    }

    public static void Map(WebApplication app, JitBrokerSettings settings)
    {
        if (!settings.Ssf.Enabled)
        {
            return;
        }

        var urls = app.Services.GetRequiredService<OAuthUrls>();
        var metadata = Metadata(urls);
        app.MapGet("/.well-known/ssf-configuration" + urls.BasePath, (HttpContext http) =>
        {
            http.Response.Headers.CacheControl = "public, max-age=300";
            return Results.Text(metadata, "application/json");
        }).OnlyOn(ListenerRole.OAuth);

        var runner = app.Services.GetRequiredService<OAuthEndpointRunner>();
        var receivers = app.Services.GetRequiredService<SsfReceivers>();
        var streams = app.Services.GetRequiredService<StreamManagement>();
        var issuer = settings.Issuer.Issuer;
        Task Run(HttpContext http, Func<string, IReadOnlySet<string>, CancellationToken, Task> body) => runner.RunAsync(http, callerIsClient: true, async ct =>
        {
            try
            {
                var (owner, audiences) = await receivers.AuthenticateAsync(http, ct).ConfigureAwait(false);
                await body(owner, audiences, ct).ConfigureAwait(false);
            }
            catch (SsfException ex)
            {
                await WriteErrorAsync(http, ex).ConfigureAwait(false);
            }
            catch (BrokerException ex) when (ex.Failure == BrokerFailure.Unavailable)
            {
                await WriteErrorAsync(http, new SsfException(StatusCodes.Status503ServiceUnavailable, Reasons.Ssf.Unavailable, "Try again shortly.")).ConfigureAwait(false);
            }
        });

        string? Id(HttpContext http) => http.Request.Query["stream_id"] is { Count: 1 } v ? v[0] : null;
        var path = urls.BasePath + StreamsPath;
        app.MapPost(path, (HttpContext http) => Run(http, async (owner, aud, ct) =>
        {
            var created = await streams.CreateAsync(owner, aud, await StreamRequest.ReadAsync(http, ct).ConfigureAwait(false), ct).ConfigureAwait(false);
            await WriteAsync(http, StatusCodes.Status201Created, w => WriteStream(w, created, issuer)).ConfigureAwait(false);
        })).OnlyOn(ListenerRole.OAuth);
        app.MapGet(path, (HttpContext http) => Run(http, async (owner, _, ct) =>
        {
            if (Id(http) is { } id)
            {
                var stream = await streams.GetAsync(owner, id, ct).ConfigureAwait(false);
                await WriteAsync(http, StatusCodes.Status200OK, w => WriteStream(w, stream, issuer)).ConfigureAwait(false);
                return;
            }

            var all = await streams.OwnAsync(owner, ct).ConfigureAwait(false);
            await WriteAsync(http, StatusCodes.Status200OK, w => { foreach (var s in all) { WriteStream(w, s, issuer); } }, array: true).ConfigureAwait(false);
        })).OnlyOn(ListenerRole.OAuth);
        foreach (var (method, replace) in new[] { (HttpMethods.Patch, false), (HttpMethods.Put, true) })
        {
            app.MapMethods(path, [method], (HttpContext http) => Run(http, async (owner, aud, ct) =>
            {
                var updated = await streams.UpdateAsync(owner, aud, await StreamRequest.ReadAsync(http, ct).ConfigureAwait(false), replace, ct).ConfigureAwait(false);
                await WriteAsync(http, StatusCodes.Status200OK, w => WriteStream(w, updated, issuer)).ConfigureAwait(false);
            })).OnlyOn(ListenerRole.OAuth);
        }

        app.MapDelete(path, (HttpContext http) => Run(http, async (owner, _, ct) =>
        {
            await streams.DeleteAsync(owner, Id(http), ct).ConfigureAwait(false);
            http.Response.StatusCode = StatusCodes.Status204NoContent;
        })).OnlyOn(ListenerRole.OAuth);
        app.MapGet(urls.BasePath + StatusPath, (HttpContext http) => Run(http, async (owner, _, ct) =>
            await WriteStatusAsync(http, await streams.GetAsync(owner, Id(http), ct).ConfigureAwait(false)).ConfigureAwait(false))).OnlyOn(ListenerRole.OAuth);
        app.MapPost(urls.BasePath + StatusPath, (HttpContext http) => Run(http, async (owner, _, ct) =>
            await WriteStatusAsync(http, await streams.SetStatusAsync(owner, await StreamRequest.ReadAsync(http, ct).ConfigureAwait(false), ct).ConfigureAwait(false)).ConfigureAwait(false)))
            .OnlyOn(ListenerRole.OAuth);
        app.MapPost(urls.BasePath + VerifyPath, (HttpContext http) => Run(http, async (owner, _, ct) =>
        {
            await streams.VerifyAsync(owner, await StreamRequest.ReadAsync(http, ct).ConfigureAwait(false), ct).ConfigureAwait(false);
            http.Response.StatusCode = StatusCodes.Status204NoContent;
        })).OnlyOn(ListenerRole.OAuth);
    }

    /// <summary>SSF 1.0 §7.1 transmitter configuration metadata.</summary>
    internal static string Metadata(OAuthUrls urls)
    {
        var origin = new Uri(urls.Issuer).GetLeftPart(UriPartial.Authority) + urls.BasePath;
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("spec_version", "1_0");
            w.WriteString("issuer", urls.Issuer);
            w.WriteString("jwks_uri", urls.Jwks.AbsoluteUri);
            w.WriteStartArray("delivery_methods_supported");
            w.WriteStringValue(StreamRequest.PushMethod);
            w.WriteEndArray();
            w.WriteString("configuration_endpoint", origin + StreamsPath);
            w.WriteString("status_endpoint", origin + StatusPath);
            w.WriteString("verification_endpoint", origin + VerifyPath);
            w.WriteStartArray("authorization_schemes");
            w.WriteStartObject();
            w.WriteString("spec_urn", "urn:ietf:rfc:6750");
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteString("default_subjects", "ALL");
            w.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private static void WriteStream(Utf8JsonWriter w, SignalStream s, string issuer)
    {
        w.WriteStartObject();
        w.WriteString("stream_id", s.StreamId);
        w.WriteString("iss", issuer);
        Strings(w, "aud", s.Audiences);
        Strings(w, "events_supported", SignalEventTypes.Supported);
        Strings(w, "events_requested", s.EventsRequested);
        Strings(w, "events_delivered", s.EventsDelivered);
        w.WriteStartObject("delivery");
        w.WriteString("method", StreamRequest.PushMethod);
        w.WriteString("endpoint_url", s.EndpointUrl);
        w.WriteEndObject();
        if (s.Description is { } d)
        {
            w.WriteString("description", d);
        }

        w.WriteEndObject();
    }

    private static Task WriteStatusAsync(HttpContext http, SignalStream s) => WriteAsync(http, StatusCodes.Status200OK, w =>
    {
        w.WriteStartObject();
        w.WriteString("stream_id", s.StreamId);
        w.WriteString("status", s.Status);
        if (s.StatusReason is { } reason)
        {
            w.WriteString("reason", reason);
        }

        w.WriteEndObject();
    });

    private static void Strings(Utf8JsonWriter w, string name, IEnumerable<string> values)
    {
        w.WriteStartArray(name);
        foreach (var v in values)
        {
            w.WriteStringValue(v);
        }

        w.WriteEndArray();
    }

    private static Task WriteAsync(HttpContext http, int status, Action<Utf8JsonWriter> body, bool array = false)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        OAuthResponses.NoStore(http);
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            if (array)
            {
                w.WriteStartArray();
            }

            body(w);
            if (array)
            {
                w.WriteEndArray();
            }
        }

        return http.Response.Body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length)).AsTask();
    }

    private static Task WriteErrorAsync(HttpContext http, SsfException ex)
    {
        http.Response.Headers[OAuthResponses.ReasonHeader] = ex.Reason;
        if (ex.Status == StatusCodes.Status401Unauthorized)
        {
            http.Response.Headers.WWWAuthenticate = "Bearer";
        }

        return WriteAsync(http, ex.Status, w =>
        {
            w.WriteStartObject();
            w.WriteString("error", ex.Status switch { 401 => "unauthorized", 403 => "forbidden", 404 => "not_found", 409 => "conflict", 503 => "unavailable", _ => "invalid_request" });
            w.WriteString("error_description", ex.Reason + ": " + ex.Message);
            w.WriteEndObject();
        });
    }
}
