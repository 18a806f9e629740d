using Grpc.Core;
using JitBroker.Core;
using JitBroker.Redis;
using Microsoft.Extensions.Logging;

namespace JitBroker.Server;

/// <summary>
/// What a gRPC call goes through before and after its handler: a call whose deadline already passed is not started; an
/// agent-API call passes the per-peer front door (<see cref="PeerAdmission"/>); and — the one place where domain failures
/// become gRPC statuses — a <see cref="BrokerException"/> leaves as its status plus the <c>jitbroker-reason</c> trailer
/// (<see cref="WireErrors"/>). Services know nothing about statuses. A call whose deadline passed or whose client went away
/// while the handler was cancelled is left to grpc-dotnet, which answers DEADLINE_EXCEEDED / CANCELLED itself.
/// </summary>
/// <remarks>
/// <para>
/// The agent API (<see cref="CredentialBrokerGrpcService"/>) calls it inline in each method — <see cref="EnterAgentCall"/>,
/// then <see cref="AgentCall.Refuse"/> in a <c>catch</c> and <see cref="AgentCall.Leave"/> in a <c>finally</c> — instead of
/// through a grpc-dotnet interceptor: an interceptor put three more async steps around every call (grpc-dotnet's
/// interceptor pipeline, the interceptor itself and the invoker that resolves the service: 0.3–0.5 KiB per request,
/// docs/benchmarks.md, 2026-12-06 night). The admin service keeps an interceptor (<see cref="BrokerCallInterceptor"/>)
/// made of the same two checks.
/// </para>
/// <para>
/// An UNAVAILABLE answer is logged with its infrastructure cause (for Redis: <c>redis.readonly</c>,
/// <c>redis.timeout</c> … from <see cref="RedisFailures"/>), which the agent never sees: the agent gets the stable
/// reason (<c>lease_store.unavailable</c> …) and a message that names no infrastructure.
/// </para>
/// </remarks>
internal sealed partial class GrpcDoor(PeerAdmission peers, ILogger<GrpcDoor> log)
{
    private readonly PeerAdmission _peers = peers;

    /// <summary>
    /// Starts an agent-API call: DEADLINE_EXCEEDED when its deadline already passed, RESOURCE_EXHAUSTED
    /// (<see cref="Reasons.PeerRateLimited"/>) when its peer is over its rate; else the admitted call, to be ended with
    /// <see cref="AgentCall.Leave"/> whatever happens.
    /// </summary>
    public AgentCall EnterAgentCall(ServerCallContext context)
    {
        RefuseIfPastDeadline(context);
        var peer = Evidence.PeerOf(context);
        if (!_peers.TryEnter(peer))
        {
            throw WireErrors.ToRpc(new BrokerException(BrokerFailure.ResourceExhausted, Reasons.PeerRateLimited,
                "Too many calls from this address; retry after a short back-off."));
        }

        return new AgentCall(this, context.Method, peer);
    }

    /// <summary>
    /// A call whose deadline passed before it got here is not started. grpc-dotnet cancels such a call only when its timer
    /// fires, and a handler that beats the timer answered OK to a client that had already given up — a minted credential
    /// nobody holds, a lease left until its TTL. grpc-dotnet sets the deadline from the system clock, so it is compared
    /// with the system clock, not the broker's injected one (tests run the broker on a fake clock).
    /// </summary>
    public static void RefuseIfPastDeadline(ServerCallContext context)
    {
        if (context.Deadline <= TimeProvider.System.GetUtcNow().UtcDateTime)
        {
            throw new RpcException(new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded"));
        }
    }

    /// <summary>The status <paramref name="refusal"/> leaves as; an UNAVAILABLE one is logged with its infrastructure cause.</summary>
    public RpcException Refuse(string method, BrokerException refusal)
    {
        if (refusal.Failure == BrokerFailure.Unavailable)
        {
            LogUnavailable(log, method, refusal.Reason, CauseOf(refusal));
        }

        return WireErrors.ToRpc(refusal);
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

    /// <summary>An agent-API call admitted by <see cref="EnterAgentCall"/> (a struct: nothing allocated per call).</summary>
    internal struct AgentCall(GrpcDoor door, string method, string? peer)
    {
        private bool _failedAttestation;

        /// <summary>The caller's remote address, as admitted (the key of its rate limit and failure counts).</summary>
        public readonly string? Peer => peer;

        /// <summary>
        /// The status <paramref name="refusal"/> leaves as. A failed attestation keeps the peer's token (failed attestations
        /// are what its bucket limits), and a malformed or repeated <c>authorization</c> is counted as one.
        /// </summary>
        public RpcException Refuse(BrokerException refusal)
        {
            if (refusal.Failure == BrokerFailure.Unauthenticated)
            {
                _failedAttestation = true;
                if (refusal.Reason is Reasons.IdentityMalformedAuthorization or Reasons.IdentityDuplicateAuthorization)
                {
                    door._peers.MalformedAuthorization(peer, refusal.Reason);
                }
            }

            return door.Refuse(method, refusal);
        }

        /// <summary>Ends the call: the peer's token goes back unless the call failed attestation.</summary>
        public readonly void Leave() => door._peers.Leave(peer, _failedAttestation);
    }

    [LoggerMessage(EventId = 120, EventName = "RequestUnavailable", Level = LogLevel.Warning,
        Message = "{Method} answered UNAVAILABLE: {Reason} (cause {Cause})")]
    private static partial void LogUnavailable(ILogger logger, string method, string reason, string cause);
}
