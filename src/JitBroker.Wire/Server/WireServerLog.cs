using Microsoft.Extensions.Logging;

namespace JitBroker.Wire;

/// <summary>Server log events. EventIds and names are stable: dashboards and alerts key on them.</summary>
internal static partial class WireServerLog
{
    [LoggerMessage(EventId = 2101, EventName = "GrpcUnsupportedContentType", Level = LogLevel.Debug,
        Message = "Rejected request to {Path}: content type {ContentType} is not supported (415).")]
    public static partial void UnsupportedContentType(ILogger logger, string path, string? contentType);

    [LoggerMessage(EventId = 2102, EventName = "GrpcUnsupportedProtocol", Level = LogLevel.Debug,
        Message = "Rejected gRPC request over {Protocol}: HTTP/2 is required (426).")]
    public static partial void UnsupportedProtocol(ILogger logger, string protocol);

    [LoggerMessage(EventId = 2103, EventName = "GrpcMethodNotAllowed", Level = LogLevel.Debug,
        Message = "Rejected gRPC request with HTTP method {HttpMethod} (405).")]
    public static partial void MethodNotAllowed(ILogger logger, string httpMethod);

    [LoggerMessage(EventId = 2104, EventName = "GrpcUnimplemented", Level = LogLevel.Debug,
        Message = "No handler registered for {Path}.")]
    public static partial void Unimplemented(ILogger logger, string path);

    [LoggerMessage(EventId = 2105, EventName = "GrpcInvalidTimeout", Level = LogLevel.Debug,
        Message = "Rejected call to {Method}: malformed grpc-timeout header.")]
    public static partial void InvalidTimeout(ILogger logger, string method);

    [LoggerMessage(EventId = 2106, EventName = "GrpcRequestRejected", Level = LogLevel.Debug,
        Message = "Call to {Method} rejected while reading the request: {StatusCode}.")]
    public static partial void RequestRejected(ILogger logger, string method, StatusCode statusCode);

    [LoggerMessage(EventId = 2107, EventName = "GrpcHandlerFailed", Level = LogLevel.Error,
        Message = "Handler for {Method} threw an unexpected exception; the client gets INTERNAL.")]
    public static partial void HandlerFailed(ILogger logger, string method, Exception exception);

    [LoggerMessage(EventId = 2108, EventName = "GrpcDeadlineExceeded", Level = LogLevel.Debug,
        Message = "Call to {Method} exceeded its deadline; answered DEADLINE_EXCEEDED and cancelled the handler.")]
    public static partial void DeadlineExceeded(ILogger logger, string method);

    [LoggerMessage(EventId = 2109, EventName = "GrpcCallAborted", Level = LogLevel.Debug,
        Message = "Call to {Method} ended without a response: the client cancelled or the connection broke.")]
    public static partial void CallAborted(ILogger logger, string method, Exception? exception);

    [LoggerMessage(EventId = 2110, EventName = "GrpcResponseWriteFailed", Level = LogLevel.Debug,
        Message = "Writing the response of {Method} failed (client likely gone).")]
    public static partial void ResponseWriteFailed(ILogger logger, string method, Exception exception);

    [LoggerMessage(EventId = 2111, EventName = "GrpcHandlerFinishedLate", Level = LogLevel.Debug,
        Message = "Handler for {Method} finished after the call had already been answered; its result was dropped.")]
    public static partial void HandlerFinishedLate(ILogger logger, string method, Exception? exception);

    [LoggerMessage(EventId = 2112, EventName = "GrpcResponseTooLarge", Level = LogLevel.Warning,
        Message = "Response of {Method} is {Size} bytes, over the {Limit}-byte send limit; answered RESOURCE_EXHAUSTED.")]
    public static partial void ResponseTooLarge(ILogger logger, string method, int size, int limit);
}
