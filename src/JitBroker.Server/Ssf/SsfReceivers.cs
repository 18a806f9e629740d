using JitBroker.Core;
using JitBroker.Core.Handlers;

namespace JitBroker.Server.Ssf;

/// <summary>
/// Who a stream management call comes from: the caller attests with its workload identity (a bearer JWT-SVID/OIDC token
/// addressed to the broker, or its X.509-SVID over mTLS — never a client secret), then must match a configured receiver;
/// the audiences of every receiver entry it matches are all it may hear about. A bearer token may be addressed like a gRPC
/// call's or to the broker's issuer — the latter is what a tool already holds for introspection and use reports
/// (ToolGuard's <c>WorkloadToken</c>), so a receiver needs no second SVID audience.
/// </summary>
public sealed class SsfReceivers(AgentAdmission admission, SsfSettings settings, IReadOnlyList<string> bearerAudiences)
{
    private readonly (GlobPattern Identity, SsfReceiverSettings Settings)[] _receivers =
        [.. settings.Receivers.Select(r => (GlobPattern.Parse(r.Identity!), r))];

    public async Task<(string Identity, IReadOnlySet<string> Audiences)> AuthenticateAsync(HttpContext http, CancellationToken cancellationToken = default)
    {
        var evidence = Evidence(http);
        var caller = await admission.AttestAsync(evidence, cancellationToken).ConfigureAwait(false);
        var audiences = Matching(caller.Id).SelectMany(r => r.Audiences).ToHashSet(StringComparer.Ordinal);
        if (audiences.Count == 0)
        {
            throw new SsfException(StatusCodes.Status403Forbidden, Reasons.Ssf.NotAReceiver, "The caller is not a configured Shared Signals receiver.");
        }

        return (caller.Id, audiences);
    }

    /// <summary>True when the receiver may have SETs pushed to <paramref name="url"/>: no entry it matches pins prefixes, or one of them is a prefix.</summary>
    public bool MayPushTo(string receiver, string url)
    {
        var prefixes = Matching(receiver).SelectMany(r => r.EndpointPrefixes).ToList();
        return prefixes.Count == 0 || prefixes.Any(p => url.StartsWith(p, StringComparison.Ordinal));
    }

    private IEnumerable<SsfReceiverSettings> Matching(string id) => _receivers.Where(r => r.Identity.IsMatch(id)).Select(r => r.Settings);

    private AttestationEvidence Evidence(HttpContext http)
    {
        var peer = PeerAdmission.PeerOf(http);
        var values = http.Request.Headers.Authorization;
        if (values.Count == 0)
        {
            return http.Connection.ClientCertificate is { } certificate
                ? new AttestationEvidence(null, certificate, peer)
                : throw new SsfException(StatusCodes.Status401Unauthorized, Reasons.IdentityMissing,
                    "Authenticate with your workload identity: 'Authorization: Bearer <workload token>' or an X.509-SVID (mTLS).");
        }

        const string scheme = "Bearer ";
        if (values.Count > 1 || values[0] is not { } header || !header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) || header.Length == scheme.Length)
        {
            throw new SsfException(StatusCodes.Status401Unauthorized, Reasons.IdentityMalformedAuthorization, "Send one 'Authorization: Bearer <workload token>' header.");
        }

        return new AttestationEvidence(header[scheme.Length..].Trim(), null, peer) { Audiences = bearerAudiences };
    }
}
