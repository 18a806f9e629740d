namespace JitBroker.Core;

/// <summary>
/// The configured attestors, keyed by method. Routes evidence to the first attestor that accepts it and
/// checks the attestor's output at the boundary.
/// </summary>
public sealed class AttestorRegistry
{
    private readonly IWorkloadAttestor[] _attestors;

    public AttestorRegistry(IEnumerable<IWorkloadAttestor> attestors)
    {
        _attestors = [.. attestors];
        var duplicate = _attestors.GroupBy(a => a.Method, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new InvalidOperationException($"Attestation method '{duplicate.Key}' is registered more than once.");
        }
    }

    public IReadOnlyList<string> Methods => [.. _attestors.Select(a => a.Method)];

    public async ValueTask<WorkloadIdentity> AttestAsync(AttestationEvidence evidence, CancellationToken cancellationToken = default)
    {
        if (!evidence.HasBearerToken && evidence.ClientCertificate is null)
        {
            throw new BrokerException(BrokerFailure.Unauthenticated, Reasons.IdentityMissing,
                "No workload identity presented: send 'authorization: Bearer <JWT-SVID>' metadata.");
        }

        foreach (var attestor in _attestors)
        {
            if (!attestor.Accepts(evidence))
            {
                continue;
            }

            var identity = await attestor.AttestAsync(evidence, cancellationToken).ConfigureAwait(false);
            identity.EnsureWellFormed();
            if (!string.Equals(identity.Method, attestor.Method, StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"Attestor '{attestor.Method}' reported method '{identity.Method}'.");
            }

            return identity;
        }

        throw new BrokerException(BrokerFailure.Unauthenticated, Reasons.IdentityUnsupported,
            "The presented identity is not of a kind this broker is configured to attest.");
    }
}

/// <summary>The configured issuers, keyed by kind.</summary>
public sealed class IssuerRegistry
{
    private readonly Dictionary<string, ICredentialIssuer> _issuers;

    public IssuerRegistry(IEnumerable<ICredentialIssuer> issuers)
    {
        _issuers = new Dictionary<string, ICredentialIssuer>(StringComparer.Ordinal);
        foreach (var issuer in issuers)
        {
            if (!_issuers.TryAdd(issuer.Kind, issuer))
            {
                throw new InvalidOperationException($"Issuer kind '{issuer.Kind}' is registered more than once.");
            }
        }

        if (_issuers.Count == 0)
        {
            throw new InvalidOperationException("At least one credential issuer must be configured.");
        }
    }

    public IReadOnlyCollection<string> Kinds => _issuers.Keys;

    public bool TryGet(string kind, out ICredentialIssuer issuer) => _issuers.TryGetValue(kind, out issuer!);

    public ICredentialIssuer Get(string kind) =>
        _issuers.TryGetValue(kind, out var issuer)
            ? issuer
            : throw new BrokerException(BrokerFailure.InvalidArgument, Reasons.IssuerUnknownKind,
                $"Credential kind '{kind}' is not configured on this broker.");
}
