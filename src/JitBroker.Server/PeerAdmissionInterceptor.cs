using Grpc.Core;
using Grpc.Core.Interceptors;
using JitBroker.Core;
using JitBroker.Core.Admission;

namespace JitBroker.Server;

/// <summary>
/// The agent API's front door, before anything about a call is attested: a peer whose failed attestations exceeded
/// its rate is refused with RESOURCE_EXHAUSTED (<see cref="Reasons.PeerRateLimited"/>); a call that does not fail
/// attestation gives its token back. Both that refusal and a malformed
/// <c>authorization</c> header (refused before the attestors see it) are counted in the failure summary rather than
/// audited or logged per call. Other services (admin, health, reflection) pass through untouched.
/// </summary>
internal sealed class PeerAdmissionInterceptor(PeerRateLimiter limiter, AttestationFailureSummary failures, BrokerMetrics metrics) : Interceptor
{
    private const string AgentServicePrefix = "/" + CredentialBrokerGrpcService.ServiceName + "/";

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation)
    {
        if (!context.Method.StartsWith(AgentServicePrefix, StringComparison.Ordinal))
        {
            return await continuation(request, context);
        }

        var peer = Evidence.PeerOf(context);
        if (!limiter.TryAcquire(peer ?? AttestationFailureSummary.UnknownPeer))
        {
            metrics.PeerRateLimited();
            failures.Record(Reasons.PeerRateLimited, peer, null);
            throw new BrokerException(BrokerFailure.ResourceExhausted, Reasons.PeerRateLimited,
                "Too many calls from this address; retry after a short back-off.");
        }

        var failedAttestation = false;
        try
        {
            return await continuation(request, context);
        }
        catch (BrokerException ex) when (ex.Failure == BrokerFailure.Unauthenticated)
        {
            // The token stays taken: failed attestations are what the bucket limits.
            failedAttestation = true;
            if (ex.Reason is Reasons.IdentityMalformedAuthorization or Reasons.IdentityDuplicateAuthorization)
            {
                metrics.AttestationFailed(ex.Reason);
                failures.Record(ex.Reason, peer, null);
            }

            throw;
        }
        finally
        {
            if (!failedAttestation)
            {
                limiter.Refund(peer ?? AttestationFailureSummary.UnknownPeer);
            }
        }
    }
}
