using Grpc.Core;
using Grpc.Core.Interceptors;
using JitBroker.Core;

namespace JitBroker.Server;

/// <summary>
/// <see cref="GrpcDoor"/> for the admin service's unary calls, as an interceptor: a call whose deadline already passed is
/// not started, and a <see cref="BrokerException"/> leaves as its status plus the <c>jitbroker-reason</c> trailer. The
/// agent API does the same inline (plus the per-peer front door), without an interceptor's extra async steps per call.
/// </summary>
internal sealed class BrokerCallInterceptor(GrpcDoor door) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation)
    {
        GrpcDoor.RefuseIfPastDeadline(context);
        try
        {
            return await continuation(request, context);
        }
        catch (BrokerException ex)
        {
            throw door.Refuse(context.Method, ex);
        }
    }
}
