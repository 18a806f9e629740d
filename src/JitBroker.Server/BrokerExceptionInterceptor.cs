using Grpc.Core;
using Grpc.Core.Interceptors;
using JitBroker.Core;

namespace JitBroker.Server;

/// <summary>
/// The one place where domain failures become gRPC statuses: a <see cref="BrokerException"/> from any
/// service method leaves as its status plus the <c>jitbroker-reason</c> trailer (<see cref="WireErrors"/>).
/// Services know nothing about statuses. A call whose deadline passed or whose client went away while the
/// handler was cancelled is left to grpc-dotnet, which answers DEADLINE_EXCEEDED / CANCELLED itself.
/// </summary>
internal sealed class BrokerExceptionInterceptor : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context);
        }
        catch (BrokerException ex)
        {
            throw WireErrors.ToRpc(ex);
        }
    }
}
