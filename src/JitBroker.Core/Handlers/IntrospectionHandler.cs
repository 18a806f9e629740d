namespace JitBroker.Core.Handlers;

/// <summary>
/// IntrospectCredential (RFC 7662 style): active only for a token the broker minted, whose lease still records exactly
/// that token and is usable — live, its agent and every agent up its delegation chain unblocked.
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

    public IntrospectionHandler(AgentAdmission admission, IEnumerable<ITaskCredentialVerifier> verifiers, ILeaseLedger leases, LeaseUsability usability,
        TimeProvider time)
    {
        _admission = admission;
        _verifiers = [.. verifiers];
        _leases = leases;
        _usability = usability;
        _time = time;
    }

    public async Task<IntrospectionResult> HandleAsync(AttestationEvidence evidence, string token, CancellationToken cancellationToken = default)
    {
        // RFC 7662 §2.1: the endpoint must not be an open token-scanning oracle, so callers attest too.
        await _admission.AttestAsync(evidence, cancellationToken).ConfigureAwait(false);
        if (string.IsNullOrEmpty(token) || token.Length > MaxTokenLength)
        {
            return IntrospectionResult.Inactive;
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
            return active ? new IntrospectionResult(true, claims, verifier.Kind) : IntrospectionResult.Inactive;
        }

        return IntrospectionResult.Inactive;
    }
}
