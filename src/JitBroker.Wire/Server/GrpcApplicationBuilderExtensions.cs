using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace JitBroker.Wire;

/// <summary>Hooks the gRPC layer into an ASP.NET Core pipeline.</summary>
public static class GrpcApplicationBuilderExtensions
{
    /// <summary>
    /// Serves the registry's methods for requests whose Content-Type starts with <c>application/grpc</c>;
    /// every other request goes to the next middleware (except one aimed at a registered method path, which
    /// gets 415). The listener must speak HTTP/2 (<c>HttpProtocols.Http2</c> for cleartext prior knowledge).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A size limit is not positive.</exception>
    public static IApplicationBuilder UseGrpcWire(this IApplicationBuilder app, GrpcServiceRegistry registry, GrpcServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.MaxReceiveMessageSize, nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.MaxSendMessageSize, nameof(options));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.MaxReceiveMessageSize, MessageFraming.MaxMessageSizeLimit, nameof(options));
        ArgumentNullException.ThrowIfNull(options.TimeProvider, nameof(options));

        var loggerFactory = app.ApplicationServices.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance;
        var middleware = new GrpcWireMiddleware(registry, options, loggerFactory.CreateLogger("JitBroker.Wire.Server"));
        return app.Use(next => context => middleware.InvokeAsync(context, next));
    }
}
