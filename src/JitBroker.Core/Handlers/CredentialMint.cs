namespace JitBroker.Core.Handlers;

/// <summary>
/// A credential just minted and the lease that will track it — not yet recorded. Hand it to
/// <see cref="CredentialCommit.CommitIssuedAsync"/> before the secret goes anywhere.
/// </summary>
public sealed record MintedCredential(ICredentialIssuer Issuer, Lease Lease, IssuedCredential Credential, Grant Grant);

/// <summary>
/// Step 5 for every path that creates a credential (request, delegation, later the OAuth token endpoint): the grant's
/// lifetime clamped to the broker's limits, a lease id placed beside its task (or its parent), the credential minted by
/// the issuer of the granted kind, and the lease record built from what the issuer actually granted.
/// </summary>
public sealed class CredentialMint
{
    private readonly IssuerRegistry _issuers;
    private readonly BrokerOptions _options;

    public CredentialMint(IssuerRegistry issuers, BrokerOptions options)
    {
        _issuers = issuers;
        _options = options;
    }

    public async Task<MintedCredential> MintAsync(WorkloadIdentity agent, string taskId, Grant grant, IReadOnlyList<string> ruleIds,
        string? parentLeaseId, DelegationChain? delegation, CancellationToken cancellationToken = default)
    {
        var ttl = grant.Ttl < _options.MaxTtl ? grant.Ttl : _options.MaxTtl;
        if (ttl < _options.MinTtl)
        {
            throw new BrokerException(BrokerFailure.PermissionDenied, Reasons.PolicyDenied,
                $"The granted lifetime ({ttl.TotalSeconds:0}s) is below the broker minimum.");
        }

        grant = grant with { Ttl = ttl };
        var issuer = _issuers.Get(grant.CredentialKind);
        // A delegated lease shares its parent's placement (a delegation tree stays in one ledger bucket); a root
        // lease takes its task's, so a task's leases stay together (docs/redis.md, "Redis Cluster").
        var leaseId = LeaseIds.New(parentLeaseId is null ? LeaseIds.PlacementFor(agent.Id, taskId) : LeaseIds.PlacementOf(parentLeaseId));
        var credential = await BrokerTracing.TraceAsync(BrokerTracing.Mint,
            () => issuer.IssueAsync(new IssueRequest(leaseId, agent, taskId, grant, delegation), cancellationToken).AsTask()).ConfigureAwait(false);
        var lease = new Lease
        {
            LeaseId = leaseId,
            TaskId = taskId,
            AgentId = agent.Id,
            ParentLeaseId = parentLeaseId,
            IssuerKind = issuer.Kind,
            BackendHandle = credential.BackendHandle,
            Scope = grant.Scope,
            IssuedAt = credential.IssuedAt,
            ExpiresAt = credential.ExpiresAt,
            DueAt = credential.ExpiresAt,
            RuleIds = ruleIds,
            CredentialFingerprint = credential.Fingerprint,
            AgentFacts = AgentFacts.From(agent),
        };
        return new MintedCredential(issuer, lease, credential, grant);
    }
}
