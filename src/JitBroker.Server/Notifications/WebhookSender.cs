using System.Globalization;
using System.Net;
using System.Net.Http.Headers;

namespace JitBroker.Server.Notifications;

public enum DeliveryOutcome
{
    /// <summary>2xx.</summary>
    Delivered,

    /// <summary>400 or 410: the receiver will never take this body (Slack's invalid_payload, channel_is_archived); not sent again.</summary>
    Rejected,

    /// <summary>Anything else — 5xx, 3xx (never followed), 401/403/404/429, a timeout, a refused connection: tried again until the approval expires.</summary>
    Retry,
}

public readonly record struct DeliveryResult(DeliveryOutcome Outcome, string Detail);

/// <summary>
/// One webhook attempt: a POST of the kind's body; a <c>json</c> webhook's signed per Standard Webhooks with this attempt's
/// time (<c>webhook-id</c>, <c>webhook-timestamp</c>, <c>webhook-signature</c>). Redirects are not followed (the URL was
/// configured; a redirect could aim the broker anywhere). Never throws for the receiver's behaviour.
/// </summary>
public sealed class WebhookSender(HttpClient http, TimeSpan timeout, TimeProvider time) : IDisposable
{
    /// <summary>Disposes the HTTP client the sender was given (it owns it).</summary>
    public void Dispose() => http.Dispose();

    /// <summary>
    /// An HTTP client for webhooks: no redirects, no cookies, no proxy from the environment (a proxy would see every
    /// notice; configure an egress proxy at the network if one is wanted), connections recycled for DNS changes.
    /// </summary>
    public static HttpClient NewClient(TimeSpan timeout)
    {
#pragma warning disable CA2000 // the HttpClient owns the handler it is given (disposeHandler: true)
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false, UseCookies = false, UseProxy = false, ConnectTimeout = timeout, PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        };
        return new HttpClient(handler, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
#pragma warning restore CA2000
    }

    public async Task<DeliveryResult> SendAsync(WebhookTarget target, ApprovalNotice notice, CancellationToken cancellationToken = default)
    {
        var slack = target.Kind == WebhookSettings.Slack;
        var body = slack ? WebhookPayloads.Slack(notice) : WebhookPayloads.Json(notice);
        using var request = new HttpRequestMessage(HttpMethod.Post, target.Url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        if (!slack)
        {
            var timestamp = time.GetUtcNow().ToUnixTimeSeconds();
            request.Headers.Add("webhook-id", notice.MessageId);
            request.Headers.Add("webhook-timestamp", timestamp.ToString(CultureInfo.InvariantCulture));
            request.Headers.Add("webhook-signature", WebhookPayloads.Signature(target.Secret!, notice.MessageId, timestamp, body));
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            return status switch
            {
                >= 200 and < 300 => new DeliveryResult(DeliveryOutcome.Delivered, $"HTTP {status}"),
                (int)HttpStatusCode.BadRequest or (int)HttpStatusCode.Gone => new DeliveryResult(DeliveryOutcome.Rejected, $"HTTP {status}"),
                >= 300 and < 400 => new DeliveryResult(DeliveryOutcome.Retry, $"HTTP {status} (redirects are not followed; fix the URL)"),
                _ => new DeliveryResult(DeliveryOutcome.Retry, $"HTTP {status}"),
            };
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new DeliveryResult(DeliveryOutcome.Retry, $"no answer within {timeout.TotalSeconds:0.###} s");
        }
        catch (HttpRequestException ex)
        {
            // The error kind only: the exception message can carry the URL, and a Slack URL is a secret.
            return new DeliveryResult(DeliveryOutcome.Retry, ex.HttpRequestError.ToString());
        }
    }
}
