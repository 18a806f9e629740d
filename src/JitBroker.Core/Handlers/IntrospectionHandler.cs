namespace JitBroker.Core.Handlers;

/// <summary>
/// IntrospectCredential (RFC 7662 style): active only for a token the broker minted, whose lease still records exactly
/// that token and is usable — live, its agent and every agent up its delegation chain unblocked. Answered for callers
/// configured as resource servers (<see cref="IntrospectionOptions.ResourceServers"/>), and for the agent the token was
/// issued to about its own token; anyone else is refused with PermissionDenied, whatever the token.
/// </summary>
public sealed class IntrospectionHandler
{
    /// <summary>Tokens larger than this are never a credential we minted; answer inactive without parsing.</summary>
    public const int MaxTokenLength = 16 * 1024;

    private readonly AgentAdmission _admission;
    private readonly IReadOnlyList<ITaskCredentialVerifier> _verifiers;
    private readonly ILeaseLedger _leases;
    private readonly LeaseUsability _usability;
    private readonly TimeProvider _time;
    private readonly GlobPattern[] _resourceServers;

    public IntrospectionHandler(AgentAdmission admission, IEnumerable<ITaskCredentialVerifier> verifiers, ILeaseLedger leases, LeaseUsability usability,
        TimeProvider time, IntrospectionOptions options)
    {
        _admission = admission;
        _verifiers = [.. verifiers];
        _leases = leases;
        _usability = usability;
        _time = time;
        _resourceServers = [.. options.ResourceServers.Select(GlobPattern.Parse)];
    }

    public async Task<IntrospectionResult> HandleAsync(AttestationEvidence evidence, string token, CancellationToken cancellationToken = default)
    {
        // RFC 7662 §2.1: the endpoint must not be an open token-scanning oracle, so callers attest too.
        var caller = await _admission.AttestAsync(evidence, cancellationToken).ConfigureAwait(false);
        var resourceServer = _resourceServers.Any(p => p.IsMatch(caller.Id));
        var (result, lease) = await IntrospectAsync(token, cancellationToken).ConfigureAwait(false);
        // Anyone else learns nothing, not even whether the token is one of ours: garbage, someone else's token and a
        // forgotten lease all get the same refusal.
        if (!resourceServer && (lease is null || !string.Equals(lease.AgentId, caller.Id, StringComparison.Ordinal)))
        {
            throw new BrokerException(BrokerFailure.PermissionDenied, Reasons.Introspection.CallerNotAllowed,
                "Introspection is answered for configured resource servers, and for an agent's own credentials.");
        }

        return result;
    }

    /// <summary>The answer, and the lease of a token the broker minted (null when it is not one of ours or is forgotten).</summary>
    private async Task<(IntrospectionResult Result, Lease? Lease)> IntrospectAsync(string token, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(token) || token.Length > MaxTokenLength)
        {
            return (IntrospectionResult.Inactive, null);
        }

        foreach (var verifier in _verifiers)
        {
            var claims = verifier.Verify(token);
            if (claims is null)
            {
                continue;
            }

            var lease = await _leases.GetAsync(claims.LeaseId, cancellationToken).ConfigureAwait(false);
            var now = _time.GetUtcNow();
            var active = lease is not null
                && now < claims.ExpiresAt
                && string.Equals(lease.CredentialFingerprint, Fingerprints.Of(token), StringComparison.Ordinal)
                && await _usability.IsUsableAsync(lease, now, cancellationToken).ConfigureAwait(false);
            return (active ? new IntrospectionResult(true, claims, verifier.Kind) : IntrospectionResult.Inactive, lease);
        }

        return (IntrospectionResult.Inactive, null);
    }
}
