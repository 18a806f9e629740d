using Grpc.AspNetCore.Server;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace JitBroker.Server;

/// <summary>Which listener an endpoint may be reached on. Endpoints without a role (health, reflection) are served on every listener.</summary>
public enum ListenerRole
{
    /// <summary>Agent gRPC listeners: h2c, TLS, mTLS.</summary>
    Agent,

    /// <summary>The admin API's own listener.</summary>
    Admin,

    /// <summary>The HTTP/1.1 listener: JWKS, probes, metrics.</summary>
    Http,

    /// <summary>
    /// The OAuth door (workload tokens in request bodies): the TLS and mTLS listeners, and the HTTP listener only in the
    /// embedded profile (loopback) or behind a TLS-terminating sidecar — never cleartext on a network otherwise.
    /// </summary>
    OAuth,

    /// <summary>The web console (browsers, HTTP/1.1): the TLS admin listener, or the embedded profile's loopback <c>Listen:Console</c>.</summary>
    Console,
}

/// <summary>
/// Keeps each endpoint on its own listeners by the port the connection actually arrived on — never by the
/// Host/:authority header, which the client chooses. A gRPC method asked for on the wrong listener answers
/// exactly as an unknown method does (UNIMPLEMENTED), so an agent port does not even reveal that the admin
/// API exists; a plain HTTP endpoint answers 404. Unknown gRPC services and methods are answered here too
/// (grpc-dotnet's catch-all routes are off, <see cref="GrpcSetup"/>).
/// </summary>
internal static class ListenerRoles
{
    public static TBuilder OnlyOn<TBuilder>(this TBuilder builder, params ListenerRole[] roles)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new ListenerRoleMetadata(roles));

    /// <summary>
    /// Runs after routing: answers a gRPC call that matched no endpoint UNIMPLEMENTED, and rejects a matched endpoint whose
    /// role does not own the connection's local port.
    /// </summary>
    public static void UseListenerRoles(this WebApplication app, BoundEndpoints endpoints) =>
        app.Use((context, next) =>
        {
            var endpoint = context.GetEndpoint();
            if (endpoint is null)
            {
                return IsGrpcCall(context.Request) ? Unimplemented(context, endpoints) : next(context);
            }

            var roles = endpoint.Metadata.GetMetadata<ListenerRoleMetadata>()?.Roles;
            if (roles is null || OwnsAny(endpoints, roles, context.Connection))
            {
                return next(context);
            }

            // The same test as for a call that matched nothing: any other answer would tell the two apart.
            return IsGrpcCall(context.Request) ? Unimplemented(context, endpoints) : NotFound(context);
        });

    // A loop, not roles.Any(lambda over context): that closure and delegate were allocated on every request.
    private static bool OwnsAny(BoundEndpoints endpoints, ListenerRole[] roles, ConnectionInfo connection)
    {
        foreach (var role in roles)
        {
            if (endpoints.Owns(role, connection.LocalPort))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// What grpc-dotnet's unimplemented routes matched, and what is answered as a gRPC call here both when nothing matched
    /// and when the endpoint belongs to another listener: a POST whose content type is <c>application/grpc</c>, alone or
    /// with a <c>+</c> or <c>;</c> suffix.
    /// </summary>
    private static bool IsGrpcCall(HttpRequest request)
    {
        const string Grpc = "application/grpc";
        var contentType = request.ContentType;
        return HttpMethods.IsPost(request.Method)
            && contentType is not null
            && contentType.StartsWith(Grpc, StringComparison.OrdinalIgnoreCase)
            && (contentType.Length == Grpc.Length || contentType[Grpc.Length] is '+' or ';');
    }

    /// <summary>
    /// A Trailers-Only UNIMPLEMENTED, as grpc-dotnet answers: "Method is unimplemented." when the path's service has a
    /// method served on this listener, else "Service is unimplemented." — so a service served only on another listener
    /// reads exactly like one that does not exist.
    /// </summary>
    private static Task Unimplemented(HttpContext context, BoundEndpoints endpoints)
    {
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/grpc";
        context.Response.Headers["grpc-status"] = "12";
        context.Response.Headers["grpc-message"] = Uri.EscapeDataString(
            ServesServiceOf(context, endpoints) ? "Method is unimplemented." : "Service is unimplemented.");
        return Task.CompletedTask;
    }

    /// <summary>True when <c>/service/method</c>'s service has a gRPC method this connection's listener serves (walked only for calls that are refused).</summary>
    private static bool ServesServiceOf(HttpContext context, BoundEndpoints endpoints)
    {
        var path = context.Request.Path.Value.AsSpan();
        var slash = path.Length > 1 ? path[1..].IndexOf('/') : -1;
        if (path.IsEmpty || path[0] != '/' || slash <= 0 || path[(slash + 2)..].Contains('/'))
        {
            return false;
        }

        var service = path.Slice(1, slash);
        foreach (var endpoint in context.RequestServices.GetRequiredService<EndpointDataSource>().Endpoints)
        {
            if (endpoint.Metadata.GetMetadata<GrpcMethodMetadata>() is { } method
                && service.SequenceEqual(method.Method.ServiceName)
                && (endpoint.Metadata.GetMetadata<ListenerRoleMetadata>()?.Roles is not { } roles || OwnsAny(endpoints, roles, context.Connection)))
            {
                return true;
            }
        }

        return false;
    }

    private static Task NotFound(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status404NotFound;
        return Task.CompletedTask;
    }

    private sealed record ListenerRoleMetadata(ListenerRole[] Roles);
}

/// <summary>The listeners Kestrel actually bound (port 0 resolves to a real port once started).</summary>
public sealed class BoundEndpoints
{
    public ListenOptions? Grpc { get; set; }

    public ListenOptions? Http { get; set; }

    public ListenOptions? Tls { get; set; }

    public ListenOptions? Mtls { get; set; }

    public ListenOptions? Admin { get; set; }

    /// <summary>The embedded profile's loopback HTTP/1.1 console listener, when configured.</summary>
    public ListenOptions? Console { get; set; }

    /// <summary>True when the web console is served on the (TLS) admin listener.</summary>
    public bool ConsoleOnAdmin { get; set; }

    /// <summary>True when the admin listener speaks TLS.</summary>
    public bool AdminTls { get; set; }

    /// <summary>True when the OAuth door may answer on the cleartext HTTP listener (embedded, or TLS terminated by a sidecar).</summary>
    public bool OAuthOnHttp { get; set; }

    public Uri GrpcUri => new($"http://{Grpc?.IPEndPoint}");

    public Uri HttpUri => new($"http://{Http?.IPEndPoint}");

    public Uri? TlsUri => Tls is null ? null : new Uri($"https://{Tls.IPEndPoint}");

    public Uri? MtlsUri => Mtls is null ? null : new Uri($"https://{Mtls.IPEndPoint}");

    public Uri AdminUri => new($"{(AdminTls ? "https" : "http")}://{Admin?.IPEndPoint}");

    public Uri? ConsoleUri => Console is not null ? new Uri($"http://{Console.IPEndPoint}") : ConsoleOnAdmin ? AdminUri : null;

    public bool Owns(ListenerRole role, int localPort) => role switch
    {
        ListenerRole.Agent => Is(Grpc, localPort) || Is(Tls, localPort) || Is(Mtls, localPort),
        ListenerRole.Admin => Is(Admin, localPort),
        ListenerRole.OAuth => Is(Tls, localPort) || Is(Mtls, localPort) || (OAuthOnHttp && Is(Http, localPort)),
        ListenerRole.Console => Is(Console, localPort) || (ConsoleOnAdmin && Is(Admin, localPort)),
        _ => Is(Http, localPort),
    };

    private static bool Is(ListenOptions? listener, int port) => listener?.IPEndPoint is { } endpoint && endpoint.Port == port;
}
