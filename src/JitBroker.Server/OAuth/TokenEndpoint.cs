using System.Security.Cryptography;
using System.Text.Json;
using JitBroker.Core;
using JitBroker.Core.Handlers;
using JitBroker.OAuth;

namespace JitBroker.Server.OAuth;

/// <summary>
/// The token endpoint (RFC 6749 §3.2): the OAuth door onto the same handlers the gRPC door calls. A workload token —
/// JWT-SVID or Kubernetes/OIDC, as the <c>assertion</c> of the jwt-bearer grant (RFC 7523, the MCP WIF extension) or the
/// <c>subject_token</c> of a token exchange (RFC 8693) — goes through <see cref="RequestCredentialHandler"/>; a planner's
/// task token exchanged with the worker's workload token as <c>actor_token</c> through <see cref="DelegateCredentialHandler"/>;
/// an X.509-SVID on the mTLS listener through <c>client_credentials</c> with <c>tls_client_auth</c> (RFC 8705 §2.1.1).
/// Policy, quotas, approvals, the lease ledger and the audit chain are the handlers'; nothing here decides.
/// </summary>
internal sealed class TokenEndpoint(RequestCredentialHandler requests, DelegateCredentialHandler delegations, ApprovalService approvals,
    AgentAdmission admission, OAuthProofs proofs, ApprovalPolls polls, OAuthUrls urls, OAuthEndpointRunner runner)
{
    public const string JwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer";
    public const string TokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange";
    public const string ClientCredentials = "client_credentials";
    public const string JwtTokenType = "urn:ietf:params:oauth:token-type:jwt";
    public const string AccessTokenType = "urn:ietf:params:oauth:token-type:access_token";

    /// <summary>The only credential kind the door issues: an access token must be a JWT a resource server can verify (RFC 9068).</summary>
    private const string CredentialKind = "jwt";

    public Task HandleAsync(HttpContext http) => runner.RunAsync(http, callerIsClient: false, async cancellationToken =>
    {
        var form = await OAuthRequestReader.ReadFormAsync(http, cancellationToken).ConfigureAwait(false);
        var proofKey = await proofs.KeyThumbprintAsync(http, OAuthUrls.TokenPath, accessToken: null, cancellationToken).ConfigureAwait(false);
        switch (OAuthRequestReader.Required(form, "grant_type"))
        {
            case JwtBearer:
                await RequestAsync(http, form, WorkloadEvidence(http, form, OAuthRequestReader.Required(form, "assertion"), proofKey), proofKey,
                    exchange: false, cancellationToken).ConfigureAwait(false);
                break;
            case TokenExchange:
                await ExchangeAsync(http, form, proofKey, cancellationToken).ConfigureAwait(false);
                break;
            case ClientCredentials:
                await RequestAsync(http, form, CertificateEvidence(http, form, proofKey), proofKey, exchange: false, cancellationToken).ConfigureAwait(false);
                break;
            default:
                throw new OAuthProtocolException(OAuthErrors.UnsupportedGrantType, Reasons.OAuth.GrantTypeUnsupported,
                    "Supported grant types: jwt-bearer, token-exchange, client_credentials (mTLS).");
        }
    });

    /// <summary>RFC 8693 §2.1: a workload token alone is a request like jwt-bearer's; with an <c>actor_token</c> it is delegation.</summary>
    private async Task ExchangeAsync(HttpContext http, OAuthForm form, string? proofKey, CancellationToken cancellationToken)
    {
        var subjectToken = OAuthRequestReader.Required(form, "subject_token");
        var subjectType = OAuthRequestReader.Required(form, "subject_token_type");
        if (form["requested_token_type"] is { } requested && requested is not (AccessTokenType or JwtTokenType))
        {
            throw new OAuthProtocolException(OAuthErrors.InvalidRequest, Reasons.OAuth.TokenTypeUnsupported,
                "requested_token_type must be urn:ietf:params:oauth:token-type:access_token (or :jwt).");
        }

        if (form["actor_token"] is not { } actorToken)
        {
            RequireTokenType(subjectType, JwtTokenType, "subject_token_type");
            await RequestAsync(http, form, WorkloadEvidence(http, form, subjectToken, proofKey), proofKey, exchange: true, cancellationToken).ConfigureAwait(false);
            return;
        }

        RequireTokenType(subjectType, AccessTokenType, "subject_token_type");
        RequireTokenType(OAuthRequestReader.Required(form, "actor_token_type"), JwtTokenType, "actor_token_type");
        var narrowing = DelegationNarrowing.Parse(form);
        var result = await delegations.ExchangeAsync(WorkloadEvidence(http, form, actorToken, proofKey), subjectToken, narrowing.Tools, narrowing.Resources,
            narrowing.Ttl, narrowing.Audience, narrowing.Action, cancellationToken).ConfigureAwait(false);
        await TokenResponse.WriteAsync(http, result, proofKey, exchange: true, authorizationDetails: narrowing.HadAuthorizationDetails).ConfigureAwait(false);
    }

    private async Task RequestAsync(HttpContext http, OAuthForm form, AttestationEvidence evidence, string? proofKey, bool exchange, CancellationToken cancellationToken)
    {
        var declared = TaskIntentParameters.Parse(form);
        var approvalId = form["approval_id"];
        ApprovalTicket? ticket = null;
        var taskId = declared.TaskId;
        if (approvalId is not null)
        {
            // Attested before anything about the approval is touched, so nobody but its agent can slow its polling down or
            // learn its task (the handler attests again and checks the approval is this agent's, for exactly this request).
            var agent = await admission.AttestAsync(evidence, cancellationToken).ConfigureAwait(false);
            polls.EnsurePollingPolitely(agent.Id, approvalId);
            ticket = new ApprovalTicket(approvalId, TimeSpan.Zero);
            // A client that let the broker name the task polls without it: the approval remembers the task it was opened for.
            if (taskId is null && await approvals.GetAsync(approvalId, cancellationToken).ConfigureAwait(false) is { } record
                && string.Equals(record.AgentId, agent.Id, StringComparison.Ordinal))
            {
                taskId = record.Request.TaskId;
            }
        }

        var request = new CredentialRequest(taskId ?? NewTaskId(),
            new TaskIntent(declared.Action, declared.Purpose ?? "", declared.Tools, declared.Resources, declared.Context),
            CredentialKind, declared.Audience, declared.RequestedTtl);
        var outcome = await requests.HandleAsync(evidence, request, ticket, cancellationToken).ConfigureAwait(false);
        if (outcome.PendingApproval is { } pending)
        {
            throw polls.Pending(pending, request.TaskId);
        }

        await TokenResponse.WriteAsync(http, outcome.Granted!, proofKey, exchange, authorizationDetails: form["authorization_details"] is not null).ConfigureAwait(false);
    }

    private AttestationEvidence WorkloadEvidence(HttpContext http, OAuthForm form, string token, string? proofKey) =>
        // The certificate of an mTLS connection is not evidence here: the workload token is (RFC 7523 §3 item 3 audience).
        // A client_id, when sent, must be the identity the token attests.
        new(token, null, PeerAdmission.PeerOf(http), proofKey)
        {
            Audiences = [urls.Issuer, urls.EndpointFor(OAuthUrls.TokenPath, IsMtls(http)).AbsoluteUri], ClaimedAgentId = form["client_id"],
        };

    private static AttestationEvidence CertificateEvidence(HttpContext http, OAuthForm form, string? proofKey)
    {
        if (http.Connection.ClientCertificate is not { } certificate)
        {
            throw new OAuthProtocolException(OAuthErrors.InvalidClient, Reasons.OAuth.ClientCertificateRequired,
                "client_credentials authenticates with an X.509-SVID (tls_client_auth) on the mTLS listener; workloads with a JWT use the jwt-bearer grant.");
        }

        // RFC 8705 §2.1: client_id is sent; the attestor's SPIFFE ID must equal it (checked once attested).
        _ = OAuthRequestReader.Required(form, "client_id");
        return new AttestationEvidence(null, certificate, PeerAdmission.PeerOf(http), proofKey) { ClaimedAgentId = form["client_id"] };
    }

    private static bool IsMtls(HttpContext http) => http.Connection.ClientCertificate is not null;

    private static void RequireTokenType(string value, string expected, string name)
    {
        if (!string.Equals(value, expected, StringComparison.Ordinal))
        {
            throw new OAuthProtocolException(OAuthErrors.InvalidRequest, Reasons.OAuth.TokenTypeUnsupported, $"{name} must be {expected}.");
        }
    }

    /// <summary>A task id for a client that did not declare one (plain MCP WIF clients send only a resource): returned as <c>task_id</c>.</summary>
    private static string NewTaskId() => "oauth-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
}
