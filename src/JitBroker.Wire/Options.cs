namespace JitBroker.Wire;

/// <summary>Server-side limits for <see cref="GrpcApplicationBuilderExtensions.UseGrpcWire"/>.</summary>
public sealed class GrpcServerOptions
{
    /// <summary>Largest request message accepted, after decompression; larger → RESOURCE_EXHAUSTED.</summary>
    public int MaxReceiveMessageSize { get; set; } = 4 * 1024 * 1024;

    /// <summary>Largest response message sent; a handler returning a larger one → RESOURCE_EXHAUSTED.</summary>
    public int MaxSendMessageSize { get; set; } = 4 * 1024 * 1024;

    /// <summary>Clock for <c>grpc-timeout</c> deadlines (tests inject a fake one).</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;
}

/// <summary>Settings for a <see cref="GrpcClient"/>.</summary>
public sealed class GrpcClientOptions
{
    /// <summary>
    /// Transport to use. Null → a <see cref="System.Net.Http.SocketsHttpHandler"/> owned and disposed by the
    /// client. A supplied handler is not disposed by the client (the caller owns it).
    /// </summary>
    public HttpMessageHandler? Handler { get; set; }

    /// <summary>Largest response message accepted, after decompression; larger → RESOURCE_EXHAUSTED.</summary>
    public int MaxReceiveMessageSize { get; set; } = 4 * 1024 * 1024;

    /// <summary>Clock for call deadlines.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;
}

/// <summary>Per-call settings for <see cref="GrpcClient.CallUnaryAsync{TRequest, TResponse}"/>.</summary>
/// <param name="Headers">Custom request metadata.</param>
/// <param name="Deadline">
/// Absolute deadline; sent as <c>grpc-timeout</c> and enforced locally, so the call fails with
/// DEADLINE_EXCEEDED on time even if the server never answers.
/// </param>
/// <param name="CancellationToken">Cancels the call (RST_STREAM CANCEL); the call fails with CANCELLED.</param>
public sealed record CallOptions(Metadata? Headers = null, DateTimeOffset? Deadline = null, CancellationToken CancellationToken = default);
