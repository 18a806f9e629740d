using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace JitBroker.Server.Ssf;

/// <summary>What became of one push.</summary>
public enum PushOutcome
{
    /// <summary>202 (or another 2xx): done.</summary>
    Delivered,

    /// <summary>400 with an RFC 8935 §2.3 error: the receiver will never take this SET; not sent again.</summary>
    Dropped,

    /// <summary>Anything else — 5xx, 3xx (never followed), 401/403/404/429, a timeout, a refused connection: sent again later.</summary>
    Retry,
}

public readonly record struct PushResult(PushOutcome Outcome, string Detail);

/// <summary>
/// One RFC 8935 push: <c>POST</c> of the compact SET as <c>application/secevent+jwt</c>, <c>Accept: application/json</c>, the
/// stream's own <c>Authorization</c> value if it gave one. Redirects are not followed (the receiver registered its URL; a
/// redirect could point the broker anywhere). Never throws for the receiver's behaviour.
/// </summary>
public sealed class SetPusher(HttpClient http, TimeSpan timeout) : IDisposable
{
    public const string ContentType = "application/secevent+jwt";

    /// <summary>RFC 8935 §2.3 / IANA "Security Event Token Error Codes".</summary>
    private static readonly HashSet<string> ErrorCodes = new(StringComparer.Ordinal)
    {
        "invalid_request", "invalid_key", "invalid_issuer", "invalid_audience", "authentication_failed", "access_denied",
    };

    /// <summary>Disposes the HTTP client the pusher was given (it owns it).</summary>
    public void Dispose() => http.Dispose();

    public async Task<PushResult> PushAsync(SignalStream stream, string set, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, stream.EndpointUrl) { Content = new StringContent(set) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(ContentType);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (stream.AuthorizationHeader is { } authorization)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            if (status is >= 200 and < 300)
            {
                return new PushResult(PushOutcome.Delivered, status.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            if (response.StatusCode == HttpStatusCode.BadRequest && await ErrorCodeAsync(response, deadline.Token).ConfigureAwait(false) is { } err)
            {
                return new PushResult(PushOutcome.Dropped, "400 " + err);
            }

            return new PushResult(PushOutcome.Retry, $"HTTP {status}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new PushResult(PushOutcome.Retry, $"no answer within {timeout.TotalSeconds:0.###} s");
        }
        catch (HttpRequestException ex)
        {
            return new PushResult(PushOutcome.Retry, ex.HttpRequestError.ToString());
        }
    }

    /// <summary>The <c>err</c> member of an RFC 8935 error body, when it is one of the registered codes (read at most 4 KiB).</summary>
    private static async Task<string?> ErrorCodeAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            var buffer = new byte[4096];
            var read = 0;
            int n;
            while (read < buffer.Length && (n = await stream.ReadAsync(buffer.AsMemory(read), cancellationToken).ConfigureAwait(false)) > 0)
            {
                read += n;
            }

            using var body = JsonDocument.Parse(buffer.AsMemory(0, read));
            return body.RootElement.ValueKind == JsonValueKind.Object && body.RootElement.TryGetProperty("err", out var err)
                && err.ValueKind == JsonValueKind.String && ErrorCodes.Contains(err.GetString()!) ? err.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
