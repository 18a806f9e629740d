using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using JitBroker.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace JitBroker.Vault;

/// <summary>A Vault reply that was not an error: its status (200, 202, 204) and envelope (null when there was no body).</summary>
public sealed class VaultReply(int statusCode, VaultResponse? body)
{
    public int StatusCode { get; } = statusCode;

    /// <summary>May hold secrets or tokens: never log it.</summary>
    public VaultResponse? Body { get; } = body;
}

/// <summary>
/// A minimal client for Vault's v1 HTTP API: one request per call, no retries (retry policy belongs to the caller —
/// revocations are retried by the lease revoker, issuance errors go back to the agent as UNAVAILABLE). Every request
/// carries <c>X-Vault-Request: true</c> and, when configured, <c>X-Vault-Namespace</c>; authenticated requests carry
/// <c>X-Vault-Token</c> (api-docs/index.mdx). Failures throw <see cref="VaultException"/>. Safe for concurrent use.
/// </summary>
public sealed partial class VaultHttpClient : IDisposable
{
    private const string TokenHeader = "X-Vault-Token";
    private const string NamespaceHeader = "X-Vault-Namespace";
    private const string RequestHeader = "X-Vault-Request";
    private static readonly MediaTypeHeaderValue Json = new("application/json");

    private readonly HttpClient _http;
    private readonly Uri _apiBase;
    private readonly string? _namespace;
    private readonly TimeSpan _timeout;
    private readonly ILogger _log;

    /// <summary>Creates the client; <paramref name="handler"/> replaces the TLS-configured default (tests only).</summary>
    public VaultHttpClient(VaultOptions options, ILogger<VaultHttpClient>? log = null, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var address = options.Address ?? throw new ArgumentException("Vault.Address is required.", nameof(options));
        _apiBase = new Uri(address, "/v1/");
        _namespace = string.IsNullOrWhiteSpace(options.Namespace) ? null : options.Namespace.Trim();
        _timeout = options.Timeout;
        _log = log ?? NullLogger<VaultHttpClient>.Instance;
        // A lent handler stays the lender's (as in KeySetHttp); only the one made here is ours to dispose.
        _http = handler is null
            #pragma warning disable CA2000 // the HttpClient owns the handler it is given (disposeHandler: true)
            ? new HttpClient(VaultTls.CreateHandler(options), disposeHandler: true)
            #pragma warning restore CA2000
            : new HttpClient(handler, disposeHandler: false);

        // Per-request timeouts below, so a timeout is told apart from the caller's cancellation.
        _http.Timeout = System.Threading.Timeout.InfiniteTimeSpan;
        _http.MaxResponseContentBufferSize = 4 * 1024 * 1024;
    }

    /// <summary>The <c>/v1/</c> base every path is relative to.</summary>
    public Uri ApiBase => _apiBase;

    internal Task<VaultReply> SendAsync(HttpMethod method, string path, string? token, CancellationToken cancellationToken = default) =>
        SendAsync<EmptyRequest>(method, path, null, null, token, cancellationToken);

    /// <summary>
    /// Sends one request. Returns 2xx replies (body null for 204 or an empty body); throws <see cref="VaultException"/>
    /// for every other status, a timeout or a transport failure, and <see cref="OperationCanceledException"/> only when
    /// <paramref name="cancellationToken"/> was cancelled.
    /// </summary>
    internal async Task<VaultReply> SendAsync<TBody>(HttpMethod method, string path, TBody? body, JsonTypeInfo<TBody>? bodyType, string? token, CancellationToken cancellationToken = default)
        where TBody : class
    {
        var operation = $"{method.Method} {path}";
        using var request = new HttpRequestMessage(method, new Uri(_apiBase, path));
        request.Headers.TryAddWithoutValidation(RequestHeader, "true");
        if (_namespace is not null)
        {
            request.Headers.TryAddWithoutValidation(NamespaceHeader, _namespace);
        }

        if (token is not null)
        {
            request.Headers.TryAddWithoutValidation(TokenHeader, token);
        }

        if (body is not null && bodyType is not null)
        {
            request.Content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(body, bodyType));
            request.Content.Headers.ContentType = Json;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_timeout);
        HttpResponseMessage response;
        byte[] content;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, timeout.Token).ConfigureAwait(false);
            content = await response.Content.ReadAsByteArrayAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (OperationCanceledException e)
        {
            LogTransportFailure(_log, operation, "timeout", e);
            throw new VaultException(VaultErrorKind.Unavailable, operation, null, [], $"No answer within {_timeout.TotalSeconds:0.###}s.", e);
        }
        catch (HttpRequestException e)
        {
            LogTransportFailure(_log, operation, e.HttpRequestError.ToString(), e);
            throw new VaultException(VaultErrorKind.Unavailable, operation, null, [], $"Transport error: {e.HttpRequestError}.", e);
        }

        using (response)
        {
            var status = (int)response.StatusCode;
            LogResponse(_log, operation, status);
            if (status is >= 200 and < 300)
            {
                return new VaultReply(status, ParseEnvelope(operation, status, content));
            }

            var errors = ParseErrors(content);
            throw new VaultException(VaultException.Classify(status), operation, status, errors);
        }
    }

    /// <summary>
    /// <c>GET sys/health</c> (unauthenticated). Reachable means an active node (200) or a standby that forwards
    /// requests (429, 473 performance standby); sealed (503), uninitialized (501) or a DR secondary (472) is not
    /// (api-docs/system/health.mdx).
    /// </summary>
    public async Task<bool> IsReachableAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            var reply = await SendAsync(HttpMethod.Get, "sys/health", null, cancellationToken).ConfigureAwait(false);
            return reply.StatusCode == 200;
        }
        catch (VaultException e) when (e.StatusCode is 429 or 473)
        {
            return true;
        }
        catch (VaultException)
        {
            return false;
        }
    }

    public void Dispose() => _http.Dispose();

    private static VaultResponse? ParseEnvelope(string operation, int status, byte[] content)
    {
        if (status == (int)HttpStatusCode.NoContent || content.Length == 0)
        {
            return null;
        }

        // Secret data stays a JsonElement that the serializer never decodes: refuse text that is not strictly
        // UTF-8 here, rather than hand an issuer bytes that read as U+FFFD or throw when copied.
        if (!StrictUtf8.IsJsonText(content))
        {
            throw new VaultException(VaultErrorKind.UnexpectedResponse, operation, status, [], "The response is not strictly valid UTF-8.");
        }

        try
        {
            return JsonSerializer.Deserialize(content, VaultJsonContext.Default.VaultResponse);
        }
        catch (JsonException e)
        {
            // The parser's message may quote the body (which may be secret data): keep only the type.
            throw new VaultException(VaultErrorKind.UnexpectedResponse, operation, status, [], "The response is not a Vault JSON envelope.", new FormatException(e.GetType().Name));
        }
    }

    private static List<string> ParseErrors(byte[] content)
    {
        if (content.Length == 0)
        {
            return [];
        }

        try
        {
            var body = JsonSerializer.Deserialize(content, VaultJsonContext.Default.VaultErrorBody);
            return body?.Errors?.Where(e => !string.IsNullOrWhiteSpace(e)).Select(VaultException.Sanitize).Take(5).ToList() ?? [];
        }
        catch (JsonException)
        {
            // A proxy's HTML error page, for example: the status says enough.
            return [];
        }
    }

    [LoggerMessage(EventId = 6001, EventName = "VaultResponse", Level = LogLevel.Debug,
        Message = "Vault {Operation} answered {StatusCode}")]
    private static partial void LogResponse(ILogger logger, string operation, int statusCode);

    [LoggerMessage(EventId = 6002, EventName = "VaultTransportFailure", Level = LogLevel.Warning,
        Message = "Vault {Operation} got no answer ({Failure})")]
    private static partial void LogTransportFailure(ILogger logger, string operation, string failure, Exception exception);
}
