using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace JitBroker.Wire;

/// <summary>
/// Front door: decides whether a request is a gRPC call at all, rejects malformed ones with the status the
/// spec asks for, and hands valid unary calls to <see cref="UnaryServerCall"/>.
/// </summary>
internal sealed class GrpcWireMiddleware(GrpcServiceRegistry registry, GrpcServerOptions options, ILogger logger)
{
    public Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var request = context.Request;
        var path = request.Path.Value;
        if (!GrpcProtocol.IsGrpcContentType(request.ContentType))
        {
            // Not gRPC: leave it to the rest of the app, unless it targets one of our methods, where the spec
            // asks for 415 so a plain HTTP client cannot read a gRPC error as success.
            if (!registry.TryGetMethod(path, out _))
            {
                return next(context);
            }

            return RejectContentType(context);
        }

        if (!GrpcProtocol.IsSupportedContentType(request.ContentType))
        {
            return RejectContentType(context);
        }

        if (!HttpMethods.IsPost(request.Method))
        {
            WireServerLog.MethodNotAllowed(logger, request.Method);
            context.Response.Headers.Allow = HttpMethods.Post;
            return GrpcResponseWriter.WriteHttpErrorAsync(context.Response, StatusCodes.Status405MethodNotAllowed, "gRPC calls must use POST.");
        }

        if (!HttpProtocol.IsHttp2(request.Protocol) && !HttpProtocol.IsHttp3(request.Protocol))
        {
            WireServerLog.UnsupportedProtocol(logger, request.Protocol);
            context.Response.Headers.Upgrade = "h2c";
            return GrpcResponseWriter.WriteHttpErrorAsync(
                context.Response, StatusCodes.Status426UpgradeRequired, $"Request protocol '{request.Protocol}' is not supported; gRPC requires HTTP/2.");
        }

        if (!registry.TryGetMethod(path, out var method))
        {
            WireServerLog.Unimplemented(logger, path ?? string.Empty);
            var detail = registry.IsKnownService(path) ? "Method is unimplemented." : "Service is unimplemented.";
            return GrpcResponseWriter.WriteStatusAsync(context.Response, StatusCode.Unimplemented, detail);
        }

        // We enforce MaxReceiveMessageSize from the length prefix ourselves and never buffer past it, so
        // Kestrel's own 30 MB body cap would only turn a clear RESOURCE_EXHAUSTED into an opaque 413.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
        {
            bodySize.MaxRequestBodySize = null;
        }

        return UnaryServerCall.HandleAsync(context, method, options, logger);
    }

    private Task RejectContentType(HttpContext context)
    {
        WireServerLog.UnsupportedContentType(logger, context.Request.Path.Value ?? string.Empty, context.Request.ContentType);
        return GrpcResponseWriter.WriteHttpErrorAsync(
            context.Response, StatusCodes.Status415UnsupportedMediaType, "Content-Type must be application/grpc or application/grpc+proto.");
    }
}
