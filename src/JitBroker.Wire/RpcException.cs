namespace JitBroker.Wire;

/// <summary>
/// A call that ended with a non-OK gRPC status. Server handlers throw it to return that status (its
/// <see cref="Trailers"/> are sent as response trailers); <see cref="GrpcClient"/> throws it for any non-OK
/// outcome, whether the server sent it or the client synthesised it (deadline, cancellation, transport error).
/// <see cref="Detail"/> travels to the peer, so it must never contain secrets or exception text.
/// </summary>
public sealed class RpcException : Exception
{
    /// <summary>Creates the exception.</summary>
    public RpcException(StatusCode statusCode, string detail, Metadata? trailers = null)
        : base($"Status(StatusCode=\"{statusCode}\", Detail=\"{detail}\")")
    {
        StatusCode = statusCode;
        Detail = detail ?? string.Empty;
        Trailers = trailers ?? [];
    }

    /// <summary>The gRPC status.</summary>
    public StatusCode StatusCode { get; }

    /// <summary>The status message (decoded <c>grpc-message</c>).</summary>
    public string Detail { get; }

    /// <summary>Custom trailers sent with the status (never the reserved <c>grpc-*</c> ones).</summary>
    public Metadata Trailers { get; }
}
