using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using JitBroker.Protocol.V1;
using GeneratedClient = JitBroker.Protocol.V1.CredentialBroker.CredentialBrokerClient;

namespace JitBroker.Cli;

/// <summary>
/// Typed client for <c>jitbroker.v1.CredentialBroker</c> over Grpc.Net.Client (the generated client). The
/// caller's identity token goes in the <c>authorization</c> metadata of every call. Failures surface as
/// <see cref="RpcException"/>; the stable reason code is in its <c>jitbroker-reason</c> trailer. Dispose it to
/// close its connections.
/// </summary>
public sealed class BrokerClient : IDisposable
{
    private readonly GrpcChannel _channel;

    public BrokerClient(Uri address, HttpMessageHandler? handler = null)
    {
        _channel = GrpcChannels.For(address, handler);
        Generated = new GeneratedClient(_channel);
    }

    /// <summary>The generated client, for calls this wrapper has no shortcut for.</summary>
    public GeneratedClient Generated { get; }

    public Task<RequestCredentialResponse> RequestCredentialAsync(string identityToken, RequestCredentialRequest request, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        Generated.RequestCredentialAsync(request, Options(identityToken, timeout, cancellationToken)).ResponseAsync;

    public Task<EndTaskResponse> EndTaskAsync(string identityToken, string taskId, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        Generated.EndTaskAsync(new EndTaskRequest { TaskId = taskId }, Options(identityToken, timeout, cancellationToken)).ResponseAsync;

    public Task<IntrospectCredentialResponse> IntrospectAsync(string identityToken, string credential, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        Generated.IntrospectCredentialAsync(new IntrospectCredentialRequest { Token = credential }, Options(identityToken, timeout, cancellationToken)).ResponseAsync;

    public Task<RenewCredentialResponse> RenewAsync(string identityToken, RenewCredentialRequest request, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        Generated.RenewCredentialAsync(request, Options(identityToken, timeout, cancellationToken)).ResponseAsync;

    public Task<OfferDelegationResponse> OfferDelegationAsync(string identityToken, OfferDelegationRequest request, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        Generated.OfferDelegationAsync(request, Options(identityToken, timeout, cancellationToken)).ResponseAsync;

    public Task<DelegateCredentialResponse> DelegateAsync(string identityToken, DelegateCredentialRequest request, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        Generated.DelegateCredentialAsync(request, Options(identityToken, timeout, cancellationToken)).ResponseAsync;

    /// <summary>Convenience builder for the common request shape.</summary>
    public static RequestCredentialRequest NewRequest(string taskId, string action, string audience, IEnumerable<string>? tools = null,
        IEnumerable<string>? resources = null, string purpose = "", TimeSpan? ttl = null, string kind = "")
    {
        var intent = new TaskIntent { Action = action, Purpose = purpose };
        intent.Tools.AddRange(tools ?? []);
        intent.Resources.AddRange(resources ?? []);
        return new RequestCredentialRequest
        {
            TaskId = taskId,
            Intent = intent,
            Target = audience,
            CredentialKind = kind,
            RequestedTtl = ttl is null ? null : Duration.FromTimeSpan(ttl.Value),
        };
    }

    public void Dispose() => _channel.Dispose();

    /// <summary>Call options carrying the identity (when given) and a deadline.</summary>
    public static CallOptions Options(string? identityToken, TimeSpan? timeout, CancellationToken cancellationToken = default)
    {
        var headers = new Metadata();
        if (identityToken is not null)
        {
            headers.Add("authorization", "Bearer " + identityToken);
        }

        return new CallOptions(headers, timeout is null ? null : TimeProvider.System.GetUtcNow().UtcDateTime + timeout.Value, cancellationToken);
    }
}

/// <summary>How jitctl and the tests open a channel: one HTTP/2 connection pool per address, h2c for http://.</summary>
public static class GrpcChannels
{
    public static GrpcChannel For(Uri address, HttpMessageHandler? handler = null) =>
        GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            HttpHandler = handler ?? new SocketsHttpHandler
            {
                EnableMultipleHttp2Connections = true,
                PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
                KeepAlivePingDelay = TimeSpan.FromSeconds(60),
                KeepAlivePingTimeout = TimeSpan.FromSeconds(30),
            },
            DisposeHttpClient = true,
            MaxReceiveMessageSize = 16 * 1024 * 1024,
        });
}
