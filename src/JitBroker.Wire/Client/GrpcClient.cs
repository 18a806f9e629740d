using System.Net;
using System.Net.Http;
using Google.Protobuf;

namespace JitBroker.Wire;

/// <summary>
/// A unary gRPC client on <see cref="HttpClient"/>. <c>http://</c> addresses use cleartext HTTP/2 with prior
/// knowledge, <c>https://</c> TLS with ALPN h2; HTTP/1.1 is never used. Thread-safe; create one per target
/// and reuse it (it pools connections). Every failure surfaces as <see cref="RpcException"/>.
/// </summary>
public sealed class GrpcClient : IDisposable
{
    private static readonly CallOptions NoOptions = new();

    private readonly HttpClient _http;
    private readonly Uri _baseAddress;
    private readonly GrpcClientOptions _options;

    /// <summary>Creates a client for a server address such as <c>http://127.0.0.1:5000</c>.</summary>
    /// <exception cref="ArgumentException">The address is not an absolute http/https URI.</exception>
    public GrpcClient(Uri address, GrpcClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (!address.IsAbsoluteUri || (address.Scheme != Uri.UriSchemeHttp && address.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException("The address must be an absolute http:// or https:// URI.", nameof(address));
        }

        _options = options ?? new GrpcClientOptions();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(_options.MaxReceiveMessageSize, nameof(options));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(_options.MaxReceiveMessageSize, MessageFraming.MaxMessageSizeLimit, nameof(options));
        ArgumentNullException.ThrowIfNull(_options.TimeProvider, nameof(options));

        var handler = _options.Handler ?? new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            AutomaticDecompression = DecompressionMethods.None,
        };
        _http = new HttpClient(handler, disposeHandler: _options.Handler is null) { Timeout = Timeout.InfiniteTimeSpan };
        _baseAddress = address.AbsoluteUri.EndsWith('/') ? address : new Uri(address.AbsoluteUri + "/");
    }

    /// <summary>
    /// Calls a unary method. Returns the response on OK; otherwise throws <see cref="RpcException"/> carrying
    /// the server's status, decoded <c>grpc-message</c> and trailers (also for Trailers-Only responses), or a
    /// locally generated status: DEADLINE_EXCEEDED when <see cref="CallOptions.Deadline"/> passes (at once,
    /// without waiting for the server), CANCELLED when a token is cancelled, UNAVAILABLE when the transport
    /// fails, RESOURCE_EXHAUSTED when the response exceeds the receive limit, INTERNAL for a malformed response.
    /// </summary>
    public async Task<TResponse> CallUnaryAsync<TRequest, TResponse>(
        string serviceFullName,
        string methodName,
        TRequest request,
        MessageParser<TResponse> responseParser,
        CallOptions? options = null,
        CancellationToken cancellationToken = default)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>
    {
        GrpcServiceRegistry.ValidateName(serviceFullName, nameof(serviceFullName));
        GrpcServiceRegistry.ValidateName(methodName, nameof(methodName));
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(responseParser);
        options ??= NoOptions;

        var clock = _options.TimeProvider;
        if (options.Deadline is { } deadline && deadline <= clock.GetUtcNow())
        {
            throw new RpcException(StatusCode.DeadlineExceeded, "Deadline Exceeded");
        }

        using var call = new ClientCallCancellation(clock, options.Deadline, options.CancellationToken, cancellationToken);
        using var httpRequest = BuildRequest(serviceFullName, methodName, request, options, clock);
        try
        {
            using var response = await _http.SendAsync(httpRequest, HttpCompletionOption.ResponseHeadersRead, call.Token).ConfigureAwait(false);
            return await UnaryResponseReader.ReadAsync(response, responseParser, _options.MaxReceiveMessageSize, call.Token).ConfigureAwait(false);
        }
        catch (RpcException)
        {
            throw;
        }
        catch (Exception) when (call.DeadlineExpired)
        {
            // Spec "Client Cancellation": a call that fails once the deadline has passed is DEADLINE_EXCEEDED.
            throw new RpcException(StatusCode.DeadlineExceeded, "Deadline Exceeded");
        }
        catch (OperationCanceledException) when (call.CancelledByCaller)
        {
            throw new RpcException(StatusCode.Cancelled, "Call cancelled by the client.");
        }
        catch (Exception ex) when (FindProtocolError(ex) is { } protocolError)
        {
            throw new RpcException(MapResetCode(protocolError.ErrorCode), $"The server reset the stream (HTTP/2 error code {protocolError.ErrorCode}).");
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException)
        {
            // statuscodes.md: a connection that breaks (or never forms) → UNAVAILABLE.
            throw new RpcException(StatusCode.Unavailable, "Error sending the gRPC call: " + ex.Message);
        }
    }

    /// <summary>Disposes the HTTP client and, unless it was supplied in the options, its handler.</summary>
    public void Dispose() => _http.Dispose();

    private HttpRequestMessage BuildRequest<TRequest>(string service, string method, TRequest request, CallOptions options, TimeProvider clock)
        where TRequest : IMessage<TRequest>
    {
        var size = request.CalculateSize();
        var body = new byte[MessageFraming.HeaderLength + size];
        MessageFraming.WriteHeader(body, size);
        request.WriteTo(body.AsSpan(MessageFraming.HeaderLength));

        var content = new ByteArrayContent(body);
        content.Headers.TryAddWithoutValidation("Content-Type", GrpcProtocol.ContentType);
        var message = new HttpRequestMessage(HttpMethod.Post, new Uri(_baseAddress, Uri.EscapeDataString(service) + "/" + Uri.EscapeDataString(method)))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = content,
        };

        var headers = message.Headers;
        if (options.Deadline is { } deadline)
        {
            // Sent first after the pseudo-headers, as the spec recommends.
            headers.TryAddWithoutValidation(GrpcProtocol.TimeoutHeader, GrpcTimeout.Encode(deadline - clock.GetUtcNow()));
        }

        headers.TryAddWithoutValidation("te", "trailers");
        headers.TryAddWithoutValidation(GrpcProtocol.AcceptEncodingHeader, GrpcProtocol.SupportedEncodings);
        headers.TryAddWithoutValidation("user-agent", GrpcProtocol.UserAgent);
        if (options.Headers is not null)
        {
            foreach (var (key, value) in options.Headers)
            {
                headers.TryAddWithoutValidation(key, value);
            }
        }

        return message;
    }

    private static HttpProtocolException? FindProtocolError(Exception ex) =>
        ex as HttpProtocolException ?? ex.InnerException as HttpProtocolException;

    /// <summary>RST_STREAM error code → status, from the table in PROTOCOL-HTTP2.md "Errors".</summary>
    private static StatusCode MapResetCode(long http2ErrorCode) => http2ErrorCode switch
    {
        0x7 => StatusCode.Unavailable, // REFUSED_STREAM: nothing was processed, safe to retry
        0x8 => StatusCode.Cancelled, // CANCEL
        0xB => StatusCode.ResourceExhausted, // ENHANCE_YOUR_CALM
        0xC => StatusCode.PermissionDenied, // INADEQUATE_SECURITY
        _ => StatusCode.Internal,
    };
}
