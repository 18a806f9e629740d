using Grpc.Core;
using Grpc.Core.Interceptors;
using JitBroker.Core;
using JitBroker.Redis;
using Microsoft.Extensions.Logging;

namespace JitBroker.Server;

/// <summary>
/// What every gRPC call goes through before and after its service method, in one interceptor (one async step per call,
/// not one per concern): a call whose deadline already passed is not started; an agent-API call passes the per-peer
/// front door (<see cref="PeerAdmission"/>); and — the one place where domain failures become gRPC statuses — a
/// <see cref="BrokerException"/> leaves as its status plus the <c>jitbroker-reason</c> trailer (<see cref="WireErrors"/>).
/// Services know nothing about statuses. A call whose deadline passed or whose client went away while the handler was
/// cancelled is left to grpc-dotnet, which answers DEADLINE_EXCEEDED / CANCELLED itself.
/// </summary>
/// <remarks>
/// An UNAVAILABLE answer is logged with its infrastructure cause (for Redis: <c>redis.readonly</c>,
/// <c>redis.timeout</c> … from <see cref="RedisFailures"/>), which the agent never sees: the agent gets the stable
/// reason (<c>lease_store.unavailable</c> …) and a message that names no infrastructure. Other services (admin, health,
/// reflection) skip the front door.
/// </remarks>
internal sealed partial class BrokerCallInterceptor(PeerAdmission peers, ILogger<BrokerCallInterceptor> log) : Interceptor
{
    private const string AgentServicePrefix = "/" + CredentialBrokerGrpcService.ServiceName + "/";

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

        var admitted = false;
        var failedAttestation = false;
        string? peer = null;
        try
        {
            if (context.Method.StartsWith(AgentServicePrefix, StringComparison.Ordinal))
            {
                peer = Evidence.PeerOf(context);
                if (!peers.TryEnter(peer))
                {
                    throw new BrokerException(BrokerFailure.ResourceExhausted, Reasons.PeerRateLimited,
                        "Too many calls from this address; retry after a short back-off.");
                }

                admitted = true;
            }

            return await continuation(request, context);
        }
        catch (BrokerException ex)
        {
            if (admitted && ex.Failure == BrokerFailure.Unauthenticated)
            {
                failedAttestation = true;
                if (ex.Reason is Reasons.IdentityMalformedAuthorization or Reasons.IdentityDuplicateAuthorization)
                {
                    peers.MalformedAuthorization(peer, ex.Reason);
                }
            }
            else if (ex.Failure == BrokerFailure.Unavailable)
            {
                LogUnavailable(log, context.Method, ex.Reason, CauseOf(ex));
            }

            throw WireErrors.ToRpc(ex);
        }
        finally
        {
            if (admitted)
            {
                peers.Leave(peer, failedAttestation);
            }
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
