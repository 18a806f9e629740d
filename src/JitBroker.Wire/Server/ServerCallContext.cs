using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Http;

namespace JitBroker.Wire;

/// <summary>What a server handler knows about its call. Valid only until the handler's task completes.</summary>
public sealed class ServerCallContext
{
    private Metadata? _requestHeaders;
    private Metadata? _responseTrailers;
    private string? _peer;

    internal ServerCallContext(HttpContext httpContext, string method, DateTimeOffset? deadline, CancellationToken cancellationToken)
    {
        HttpContext = httpContext;
        Method = method;
        Deadline = deadline;
        CancellationToken = cancellationToken;
    }

    /// <summary>The full method path, <c>/package.Service/Method</c>.</summary>
    public string Method { get; }

    /// <summary>Custom request metadata (transport and <c>grpc-*</c> headers excluded).</summary>
    public Metadata RequestHeaders => _requestHeaders ??= ReadRequestHeaders(HttpContext.Request.Headers);

    /// <summary>The client's deadline from <c>grpc-timeout</c>, or null when it sent none.</summary>
    public DateTimeOffset? Deadline { get; }

    /// <summary>Cancelled when the deadline passes or the client cancels/disconnects.</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>The remote address as in grpc doc/naming.md: <c>ipv4:1.2.3.4:5678</c> or <c>ipv6:[::1]:5678</c>.</summary>
    public string Peer => _peer ??= FormatPeer(HttpContext.Connection);

    /// <summary>The client's TLS certificate when mutual TLS was negotiated, else null.</summary>
    public X509Certificate2? ClientCertificate => HttpContext.Connection.ClientCertificate;

    /// <summary>
    /// Trailers to send with the final status (also when a handler throws <see cref="RpcException"/>, whose
    /// own trailers are appended after these).
    /// </summary>
    public Metadata ResponseTrailers => _responseTrailers ??= [];

    /// <summary>The underlying HTTP context. Handlers must not write to its response.</summary>
    public HttpContext HttpContext { get; }

    internal bool HasResponseTrailers => _responseTrailers is { Count: > 0 };

    private static Metadata ReadRequestHeaders(IHeaderDictionary headers)
    {
        var metadata = new Metadata();
        foreach (var (key, values) in headers)
        {
            if (GrpcProtocol.IsTransportHeader(key.ToLowerInvariant()))
            {
                continue;
            }

            foreach (var value in values)
            {
                if (value is not null)
                {
                    metadata.AddReceived(key, value);
                }
            }
        }

        return metadata;
    }

    private static string FormatPeer(ConnectionInfo connection) => connection.RemoteIpAddress switch
    {
        null => "unknown",
        { AddressFamily: AddressFamily.InterNetwork } ip => $"ipv4:{ip}:{connection.RemotePort}",
        { AddressFamily: AddressFamily.InterNetworkV6 } ip => $"ipv6:[{ip}]:{connection.RemotePort}",
        var ip => $"unknown:{ip}:{connection.RemotePort}",
    };
}
