using Grpc.Core;
using Grpc.Core.Interceptors;
using JitBroker.Core;
using JitBroker.Redis;
using Microsoft.Extensions.Logging;

namespace JitBroker.Server;

/// <summary>
/// The one place where domain failures become gRPC statuses: a <see cref="BrokerException"/> from any
/// service method leaves as its status plus the <c>jitbroker-reason</c> trailer (<see cref="WireErrors"/>).
/// Services know nothing about statuses. A call whose deadline passed or whose client went away while the
/// handler was cancelled is left to grpc-dotnet, which answers DEADLINE_EXCEEDED / CANCELLED itself; a call whose
/// deadline had already passed when it arrived is answered DEADLINE_EXCEEDED here, before any work.
/// </summary>
/// <remarks>
/// An UNAVAILABLE answer is logged with its infrastructure cause (for Redis: <c>redis.readonly</c>,
/// <c>redis.timeout</c> … from <see cref="RedisFailures"/>), which the agent never sees: the agent gets the stable
/// reason (<c>lease_store.unavailable</c> …) and a message that names no infrastructure.
/// </remarks>
internal sealed partial class BrokerExceptionInterceptor(ILogger<BrokerExceptionInterceptor> log) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation)
    {
        // A call whose deadline passed before it got here is not started. grpc-dotnet cancels such a call only when its
        // timer fires, and a handler that beats the timer answered OK to a client that had already given up — a minted
        // credential nobody holds, a lease left until its TTL. grpc-dotnet sets the deadline from the system clock, so
        // it is compared with the system clock, not the broker's injected one (tests run the broker on a fake clock).
        if (context.Deadline <= TimeProvider.System.GetUtcNow().UtcDateTime)
        {
            throw new RpcException(new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded"));
        }

        try
        {
            return await continuation(request, context);
        }
        catch (BrokerException ex)
        {
            if (ex.Failure == BrokerFailure.Unavailable)
            {
                LogUnavailable(log, context.Method, ex.Reason, CauseOf(ex));
            }

            throw WireErrors.ToRpc(ex);
        }
    }

    /// <summary>The infrastructure cause code anywhere on the exception chain (the stores put it on theirs), or "unknown".</summary>
    private static string CauseOf(Exception ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            if (e.Data[RedisFailures.CauseKey] is string cause)
            {
                return cause;
            }

            if (RedisFailures.IsRedisFailure(e))
            {
                return RedisFailures.CauseOf(e);
            }
        }

        return "unknown";
    }

    [LoggerMessage(EventId = 120, EventName = "RequestUnavailable", Level = LogLevel.Warning,
        Message = "{Method} answered UNAVAILABLE: {Reason} (cause {Cause})")]
    private static partial void LogUnavailable(ILogger logger, string method, string reason, string cause);
}
