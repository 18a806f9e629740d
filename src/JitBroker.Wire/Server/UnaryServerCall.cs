using Google.Protobuf;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace JitBroker.Wire;

/// <summary>
/// One unary call: read the request, run the handler, answer — racing a deadline timer. Exactly one party
/// answers: whoever first moves <see cref="_owner"/> from Open claims the response, the other stays silent.
/// The middleware does not return before the handler finishes (the HttpContext must outlive it), but a
/// deadline answers the client at once, cancels the handler's token and resets the stream.
/// </summary>
internal sealed class UnaryServerCall
{
    private const int Open = 0;
    private const int OwnedByCall = 1;
    private const int OwnedByDeadline = 2;

    /// <summary>Far-future timeouts are clamped so now + timeout cannot overflow DateTimeOffset.</summary>
    private static readonly TimeSpan MaxTimeout = TimeSpan.FromDays(3650);

    private readonly HttpContext _http;
    private readonly IUnaryMethod _method;
    private readonly GrpcServerOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _cts = new();
    private readonly TaskCompletionSource _deadlineAnswered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ServerCallContext _context;
    private int _owner;

    private UnaryServerCall(HttpContext http, IUnaryMethod method, GrpcServerOptions options, ILogger logger, DateTimeOffset? deadline)
    {
        _http = http;
        _method = method;
        _options = options;
        _logger = logger;
        _context = new ServerCallContext(http, method.Path, deadline, _cts.Token);
    }

    public static Task HandleAsync(HttpContext http, IUnaryMethod method, GrpcServerOptions options, ILogger logger)
    {
        TimeSpan? timeout = null;
        var timeoutHeader = http.Request.Headers[GrpcProtocol.TimeoutHeader];
        if (timeoutHeader.Count > 0)
        {
            if (timeoutHeader.Count > 1 || !GrpcTimeout.TryParse(timeoutHeader[0], out var parsed))
            {
                // The spec gives no leeway for a garbled deadline; guessing one (or none) would be worse.
                WireServerLog.InvalidTimeout(logger, method.Path);
                return GrpcResponseWriter.WriteStatusAsync(http.Response, StatusCode.Internal, "Malformed grpc-timeout header.");
            }

            timeout = parsed > MaxTimeout ? MaxTimeout : parsed;
        }

        DateTimeOffset? deadline = timeout is { } t ? options.TimeProvider.GetUtcNow() + t : null;
        var call = new UnaryServerCall(http, method, options, logger, deadline);
        return call.RunAsync();
    }

    private async Task RunAsync()
    {
        using var abortRegistration = _http.RequestAborted.Register(static state => ((UnaryServerCall)state!).Cancel(), this);
        DeadlineTimer? timer = null;
        try
        {
            if (_context.Deadline is { } deadline)
            {
                timer = new DeadlineTimer(_options.TimeProvider, deadline, OnDeadline);
                if (deadline <= _options.TimeProvider.GetUtcNow())
                {
                    OnDeadline(); // a zero timeout: do not even read the request
                }
            }

            await RunCoreAsync().ConfigureAwait(false);
        }
        finally
        {
            timer?.Dispose();

            // Close the call so a deadline callback still in flight cannot touch a recycled HttpContext; if the
            // deadline already owns the response, wait until it has finished writing.
            if (Interlocked.CompareExchange(ref _owner, OwnedByCall, Open) == OwnedByDeadline)
            {
                await _deadlineAnswered.Task.ConfigureAwait(false);
            }
        }
    }

    private async Task RunCoreAsync()
    {
        IMessage request;
        try
        {
            var encoding = _http.Request.Headers[GrpcProtocol.EncodingHeader].ToString();
            request = await RequestMessageReader.ReadAsync(
                _http.Request.BodyReader, _method, encoding, _options.MaxReceiveMessageSize, _cts.Token).ConfigureAwait(false);
        }
        catch (RpcException ex)
        {
            WireServerLog.RequestRejected(_logger, _method.Path, ex.StatusCode);
            await AnswerStatusAsync(ex.StatusCode, ex.Detail, ex.Trailers).ConfigureAwait(false);
            return;
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            // Client reset the stream, connection broke, or the deadline (already answered) cancelled the read.
            if (Volatile.Read(ref _owner) != OwnedByDeadline)
            {
                WireServerLog.CallAborted(_logger, _method.Path, ex);
            }

            return;
        }

        IMessage response;
        try
        {
            response = await _method.InvokeAsync(request, _context).ConfigureAwait(false);
        }
        catch (RpcException ex)
        {
            await AnswerStatusAsync(ex.StatusCode, ex.Detail, _context.HasResponseTrailers ? _context.ResponseTrailers : null, ex.Trailers).ConfigureAwait(false);
            return;
        }
        catch (Exception ex) when (_cts.IsCancellationRequested)
        {
            // The deadline or the client ended the call; the handler just noticed. Nothing is owed to anyone.
            WireServerLog.HandlerFinishedLate(_logger, _method.Path, ex);
            return;
        }
        catch (Exception ex)
        {
            WireServerLog.HandlerFailed(_logger, _method.Path, ex);
            await AnswerStatusAsync(StatusCode.Internal, "Exception was thrown by handler.").ConfigureAwait(false);
            return;
        }

        await AnswerMessageAsync(response).ConfigureAwait(false);
    }

    private async Task AnswerMessageAsync(IMessage response)
    {
        var size = response.CalculateSize();
        if (size > _options.MaxSendMessageSize)
        {
            WireServerLog.ResponseTooLarge(_logger, _method.Path, size, _options.MaxSendMessageSize);
            await AnswerStatusAsync(StatusCode.ResourceExhausted, "Sending message exceeds the maximum configured message size.").ConfigureAwait(false);
            return;
        }

        // The deadline timer has coarse resolution (about a millisecond); a handler that finished after the
        // deadline must not answer OK to a client that has already given up (C-core sends "1n" for an expired one).
        if (_context.Deadline is { } deadline && _options.TimeProvider.GetUtcNow() >= deadline && Volatile.Read(ref _owner) == Open)
        {
            OnDeadline();
            return;
        }

        if (!TryClaim())
        {
            return;
        }

        try
        {
            await GrpcResponseWriter.WriteMessageAsync(_http.Response, response, size, _context.HasResponseTrailers ? _context.ResponseTrailers : null).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException)
        {
            WireServerLog.ResponseWriteFailed(_logger, _method.Path, ex);
        }
    }

    private async Task AnswerStatusAsync(StatusCode code, string detail, Metadata? first = null, Metadata? second = null)
    {
        if (!TryClaim())
        {
            return;
        }

        try
        {
            await GrpcResponseWriter.WriteStatusAsync(_http.Response, code, detail, first, second).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException)
        {
            WireServerLog.ResponseWriteFailed(_logger, _method.Path, ex);
        }
    }

    private bool TryClaim()
    {
        if (Interlocked.CompareExchange(ref _owner, OwnedByCall, Open) == Open)
        {
            return !_http.RequestAborted.IsCancellationRequested;
        }

        WireServerLog.HandlerFinishedLate(_logger, _method.Path, null);
        return false;
    }

    private void OnDeadline()
    {
        if (Interlocked.CompareExchange(ref _owner, OwnedByDeadline, Open) == Open)
        {
            _ = AnswerDeadlineAsync();
        }
    }

    private async Task AnswerDeadlineAsync()
    {
        try
        {
            WireServerLog.DeadlineExceeded(_logger, _method.Path);
            if (!_http.RequestAborted.IsCancellationRequested)
            {
                await GrpcResponseWriter.WriteStatusAsync(_http.Response, StatusCode.DeadlineExceeded, "Deadline Exceeded").ConfigureAwait(false);

                // Spec "Early Server Closure" / "Client Cancellation": after the trailers, RST_STREAM so the
                // client stops sending and the stream is freed even if the handler keeps running.
                _http.Features.Get<IHttpResetFeature>()?.Reset(GrpcProtocol.ResetStreamNoError);
            }
        }
        catch (Exception ex)
        {
            WireServerLog.ResponseWriteFailed(_logger, _method.Path, ex);
        }
        finally
        {
            Cancel();
            _deadlineAnswered.TrySetResult();
        }
    }

    private void Cancel()
    {
        try
        {
            _cts.Cancel();
        }
        catch (AggregateException)
        {
            // Thrown by handler-registered callbacks; the handler's failure is not the transport's.
        }
    }
}
