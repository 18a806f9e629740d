using JitBroker.Core;
using JitBroker.Core.Admission;
using JitBroker.OAuth;

namespace JitBroker.Server.OAuth;

/// <summary>
/// What every OAuth endpoint does around its own work, as <see cref="BrokerCallInterceptor"/> does for the gRPC door:
/// a peer whose failed attestations exceeded its rate is refused before anything is parsed (<see cref="PeerAdmission"/>;
/// a call that does not fail attestation gives its token back); every refusal — protocol or domain — becomes one RFC 6749 §5.2 JSON error;
/// anything unexpected is a logged <c>server_error</c> without a stack trace on the wire.
/// </summary>
internal sealed class OAuthEndpointRunner(PeerAdmission peers, ILogger<OAuthEndpointRunner> log)
{
    /// <param name="callerIsClient">The endpoint authenticates its caller as a client (introspection, revocation): attestation failures are <c>invalid_client</c>.</param>
    public async Task RunAsync(HttpContext http, bool callerIsClient, Func<CancellationToken, Task> body)
    {
        var peer = PeerAdmission.PeerOf(http) ?? AttestationFailureSummary.UnknownPeer;
        if (!peers.TryEnter(peer))
        {
            await OAuthResponses.WriteErrorAsync(http, new OAuthProtocolException(OAuthErrors.AccessDenied, Reasons.PeerRateLimited,
                "Too many calls from this address; retry after a short back-off."), retryAfter: TimeSpan.FromSeconds(1)).ConfigureAwait(false);
            return;
        }

        var failedAttestation = false;
        try
        {
            await body(http.RequestAborted).ConfigureAwait(false);
        }
        catch (PendingApprovalException pending)
        {
            await OAuthResponses.WriteErrorAsync(http, pending.Error, pending.WriteExtra).ConfigureAwait(false);
        }
        catch (OAuthProtocolException ex)
        {
            await OAuthResponses.WriteErrorAsync(http, ex).ConfigureAwait(false);
        }
        catch (BrokerException ex)
        {
            failedAttestation = ex.Failure == BrokerFailure.Unauthenticated;
            await OAuthResponses.WriteErrorAsync(http, OAuthResponses.FromBroker(ex, callerIsClient),
                retryAfter: ex.Failure == BrokerFailure.ResourceExhausted ? ex.RetryAfter ?? TimeSpan.FromSeconds(1) : null).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nothing to answer.
        }
        catch (Exception ex) when (!http.Response.HasStarted)
        {
            OAuthLog.Unexpected(log, http.Request.Path, ex);
            await OAuthResponses.WriteErrorAsync(http, new OAuthProtocolException(OAuthErrors.ServerError, Reasons.OAuth.Internal,
                "The request could not be completed.")).ConfigureAwait(false);
        }
        finally
        {
            peers.Leave(peer, failedAttestation);
        }
    }
}

internal static partial class OAuthLog
{
    [LoggerMessage(EventId = 130, EventName = "OAuthUnexpectedFailure", Level = LogLevel.Error,
        Message = "The OAuth endpoint {Path} failed unexpectedly; the caller was answered server_error.")]
    public static partial void Unexpected(ILogger log, string path, Exception exception);
}
