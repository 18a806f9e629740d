using System.Text.Json;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace JitBroker.ToolGuard;

/// <summary>What the broker said about a token, or that it could not be asked.</summary>
public enum IntrospectionVerdict
{
    Active,
    Inactive,
    Unavailable,
}

/// <summary>
/// Revocation that reaches the tool: after the JWT validated, ask the broker (RFC 7662 §2.1, the endpoint from its
/// metadata) whether the token is still active, authenticated as this tool (client_assertion = its workload token,
/// RFC 7523 §2.2). Answers are cached for <see cref="IntrospectionCheckOptions.CacheDuration"/>, so a revocation is seen
/// at most that late; an inactive answer is also remembered in <see cref="IRevocationSignal"/> until the token's exp.
/// </summary>
internal sealed partial class IntrospectionCheck(
    IOptions<ToolGuardOptions> options, IOptionsMonitor<JwtBearerOptions> bearer, IHttpClientFactory http,
    IRevocationSignal revocations, PushHealth push, TimeProvider time, ILogger<IntrospectionCheck> logger)
{
    private readonly CountedMap<(bool Active, DateTimeOffset Until)> _cache = new();

    public async Task<IntrospectionVerdict> CheckAsync(string token, string fingerprint, string jti, DateTimeOffset expires, CancellationToken cancellationToken = default)
    {
        var o = options.Value.Introspection;
        var now = time.GetUtcNow();
        var cacheFor = push.IntrospectionCacheDuration(options.Value); // longer while revocations arrive by push (docs/ssf.md)
        if (cacheFor > TimeSpan.Zero && _cache.TryGetValue(fingerprint, out var cached) && cached.Until > now)
        {
            return cached.Active ? IntrospectionVerdict.Active : IntrospectionVerdict.Inactive;
        }

        bool active;
        try
        {
            active = await AskAsync(token, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or InvalidOperationException or IntrospectionRefusedException)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            if (o.FailOpen)
            {
                LogFailOpen(logger, e, fingerprint);
                return IntrospectionVerdict.Active;
            }

            LogUnavailable(logger, e, fingerprint);
            return IntrospectionVerdict.Unavailable;
        }

        if (!active)
        {
            revocations.Revoke(jti, expires);
        }

        Remember(fingerprint, active, now + cacheFor, cacheFor, o);
        return active ? IntrospectionVerdict.Active : IntrospectionVerdict.Inactive;
    }

    private void Remember(string fingerprint, bool active, DateTimeOffset until, TimeSpan cacheFor, IntrospectionCheckOptions o)
    {
        if (cacheFor <= TimeSpan.Zero)
        {
            return;
        }

        if (_cache.Count >= o.MaxCacheEntries)
        {
            var now = time.GetUtcNow();
            _cache.RemoveWhere(entry => entry.Until <= now);

            if (_cache.Count >= o.MaxCacheEntries)
            {
                return; // full of live answers: this one is asked again next time, memory stays bounded
            }
        }

        _cache.Set(fingerprint, (active, until));
    }

    private async Task<bool> AskAsync(string token, CancellationToken cancellationToken = default)
    {
        var o = options.Value;
        var endpoint = o.Introspection.Endpoint ?? await EndpointFromMetadataAsync(cancellationToken).ConfigureAwait(false);
        var assertion = o.WorkloadToken is { } workloadToken
            ? await workloadToken(cancellationToken).ConfigureAwait(false)
            : throw new InvalidOperationException("ToolGuard introspection needs a WorkloadToken");
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint)
        {
            Content = new FormUrlEncodedContent(
            [
                KeyValuePair.Create("token", token),
                KeyValuePair.Create("token_type_hint", "access_token"),
                KeyValuePair.Create("client_assertion_type", UseReportSender.JwtBearerAssertionType),
                KeyValuePair.Create("client_assertion", assertion),
            ]),
        };
        using var timeout = new CancellationTokenSource(o.Introspection.Timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cancellationToken);
        using var client = http.CreateClient(UseReportSender.HttpClientName);
        using var response = await client.SendAsync(request, linked.Token).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new IntrospectionRefusedException((int)response.StatusCode);
        }

        var body = await response.Content.ReadAsStreamAsync(linked.Token).ConfigureAwait(false);
        await using (body.ConfigureAwait(false))
        {
            using var json = await JsonDocument.ParseAsync(body, cancellationToken: linked.Token).ConfigureAwait(false);
            // RFC 7662 §2.2: active is a boolean; anything else is not "active".
            return json.RootElement.ValueKind == JsonValueKind.Object
                && json.RootElement.TryGetProperty("active", out var active) && active.ValueKind == JsonValueKind.True;
        }
    }

    private async Task<string> EndpointFromMetadataAsync(CancellationToken cancellationToken = default)
    {
        var manager = bearer.Get(ToolGuardDefaults.AuthenticationScheme).ConfigurationManager
            ?? throw new InvalidOperationException("no metadata configuration manager");
        var configuration = await manager.GetConfigurationAsync(cancellationToken).ConfigureAwait(false);
        return configuration.IntrospectionEndpoint is { Length: > 0 } endpoint
            ? endpoint
            : options.Value.Issuer.TrimEnd('/') + "/oauth2/introspect";
    }

    [LoggerMessage(EventId = 4310, EventName = "ToolGuardIntrospectionUnavailable", Level = LogLevel.Warning,
        Message = "The broker could not be asked about credential {Fingerprint}; refused (fail closed)")]
    private static partial void LogUnavailable(ILogger logger, Exception exception, string fingerprint);

    [LoggerMessage(EventId = 4311, EventName = "ToolGuardIntrospectionFailOpen", Level = LogLevel.Error,
        Message = "FAIL-OPEN: the broker could not be asked about credential {Fingerprint} and it is ACCEPTED without a revocation check (Introspection:FailOpen is on)")]
    private static partial void LogFailOpen(ILogger logger, Exception exception, string fingerprint);
}

internal sealed class IntrospectionRefusedException(int status) : Exception($"introspection answered HTTP {status}");
