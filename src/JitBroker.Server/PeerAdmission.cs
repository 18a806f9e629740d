using JitBroker.Core;
using JitBroker.Core.Admission;

namespace JitBroker.Server;

/// <summary>
/// The front door of both agent APIs (gRPC through <see cref="GrpcDoor"/>, OAuth through
/// <see cref="OAuth.OAuthEndpointRunner"/>), before anything about a call is attested: a peer whose failed attestations
/// exceeded its rate is refused (<see cref="Reasons.PeerRateLimited"/>, counted in the failure summary rather than audited
/// or logged per call); a call that does not fail attestation gives its token back.
/// </summary>
internal sealed class PeerAdmission(PeerRateLimiter limiter, AttestationFailureSummary failures, BrokerMetrics metrics)
{
    /// <summary>Takes a token from <paramref name="peer"/>'s bucket; false, counted, when the bucket is empty.</summary>
    public bool TryEnter(string? peer)
    {
        if (limiter.TryAcquire(peer ?? AttestationFailureSummary.UnknownPeer))
        {
            return true;
        }

        metrics.PeerRateLimited();
        failures.Record(Reasons.PeerRateLimited, peer, null);
        return false;
    }

    /// <summary>
    /// Ends a call <see cref="TryEnter"/> admitted: one that failed attestation keeps its token (failed attestations are
    /// what the bucket limits); any other outcome — success, a refusal after attestation, an unexpected error — gives it back.
    /// </summary>
    public void Leave(string? peer, bool failedAttestation)
    {
        if (!failedAttestation)
        {
            limiter.Refund(peer ?? AttestationFailureSummary.UnknownPeer);
        }
    }

    /// <summary>A refusal of the gRPC door's <c>authorization</c> metadata, made before any attestor saw it: counted like a failed attestation.</summary>
    public void MalformedAuthorization(string? peer, string reason)
    {
        metrics.AttestationFailed(reason);
        failures.Record(reason, peer, null);
    }

    /// <summary>The caller's remote address (IPv4-mapped IPv6 folded to IPv4): the key of the per-peer rate limit and failure counts.</summary>
    public static string? PeerOf(HttpContext http) =>
        http.Connection.RemoteIpAddress is { } address ? (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString() : null;
}
