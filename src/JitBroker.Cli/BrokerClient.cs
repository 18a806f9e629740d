using Google.Protobuf.WellKnownTypes;
using JitBroker.Protocol.V1;
using JitBroker.Wire;

namespace JitBroker.Cli;

/// <summary>
/// Typed client for <c>jitbroker.v1.CredentialBroker</c>. The caller's identity token goes in the
/// <c>authorization</c> metadata of every call. Failures surface as <see cref="RpcException"/>; the
/// stable reason code is in its <c>jitbroker-reason</c> trailer.
/// </summary>
public sealed class BrokerClient : IDisposable
{
    private const string Service = "jitbroker.v1.CredentialBroker";
    private readonly GrpcClient _grpc;

    public BrokerClient(Uri address, GrpcClientOptions? options = null) => _grpc = new GrpcClient(address, options);

    public Task<RequestCredentialResponse> RequestCredentialAsync(string identityToken, RequestCredentialRequest request, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        _grpc.CallUnaryAsync(Service, "RequestCredential", request, RequestCredentialResponse.Parser, Options(identityToken, timeout), cancellationToken);

    public Task<EndTaskResponse> EndTaskAsync(string identityToken, string taskId, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        _grpc.CallUnaryAsync(Service, "EndTask", new EndTaskRequest { TaskId = taskId }, EndTaskResponse.Parser, Options(identityToken, timeout), cancellationToken);

    public Task<IntrospectCredentialResponse> IntrospectAsync(string identityToken, string credential, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        _grpc.CallUnaryAsync(Service, "IntrospectCredential", new IntrospectCredentialRequest { Token = credential }, IntrospectCredentialResponse.Parser, Options(identityToken, timeout), cancellationToken);

    /// <summary>Any CredentialBroker method, with the caller's identity in the metadata.</summary>
    public Task<TResponse> CallAsync<TRequest, TResponse>(string service, string method, string identityToken, TRequest request,
        Google.Protobuf.MessageParser<TResponse> parser, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
        where TRequest : Google.Protobuf.IMessage<TRequest>
        where TResponse : Google.Protobuf.IMessage<TResponse> =>
        _grpc.CallUnaryAsync(service, method, request, parser, Options(identityToken, timeout), cancellationToken);

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

    public void Dispose() => _grpc.Dispose();

    private static CallOptions Options(string identityToken, TimeSpan? timeout)
    {
        var headers = new Metadata();
        headers.Add("authorization", "Bearer " + identityToken);
        return new CallOptions(headers, timeout is null ? null : TimeProvider.System.GetUtcNow() + timeout.Value);
    }
}
