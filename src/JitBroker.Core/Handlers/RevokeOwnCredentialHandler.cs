namespace JitBroker.Core.Handlers;

/// <summary>
/// Token revocation (RFC 7009) by the agent holding the credential: its lease, and everything delegated from it, is revoked
/// now exactly as EndTask revokes a task's leases (the same <see cref="LeaseTermination"/>, audited). A token that is not
/// one of ours, or whose lease is gone, is "revoked" already: RFC 7009 §2.2 answers 200 for it, so no outcome is returned.
/// Another agent's credential is refused — the RFC's "verifies whether the token was issued to the client".
/// </summary>
public sealed class RevokeOwnCredentialHandler
{
    private readonly AgentAdmission _admission;
    private readonly DelegationRules _rules;
    private readonly ILeaseLedger _leases;
    private readonly LeaseTermination _termination;

    public RevokeOwnCredentialHandler(AgentAdmission admission, DelegationRules rules, ILeaseLedger leases, LeaseTermination termination)
    {
        _admission = admission;
        _rules = rules;
        _leases = leases;
        _termination = termination;
    }

    /// <summary>The outcomes (the lease first, then its descendants), or an empty list when there was nothing of ours to revoke.</summary>
    public async Task<IReadOnlyList<LeaseRevocationOutcome>> HandleAsync(AttestationEvidence evidence, string token, CancellationToken cancellationToken = default)
    {
        var agent = await _admission.AttestAsync(evidence, cancellationToken).ConfigureAwait(false);
        var claims = token.Length is > 0 and <= IntrospectionHandler.MaxTokenLength ? _rules.Verify(token) : null;
        var lease = claims is null ? null : await _leases.GetAsync(claims.LeaseId, cancellationToken).ConfigureAwait(false);
        if (lease is null || !string.Equals(lease.CredentialFingerprint, Fingerprints.Of(token), StringComparison.Ordinal))
        {
            // Not ours, forgotten, or an earlier token of a renewed lease (already inactive): nothing to do.
            return [];
        }

        if (!string.Equals(lease.AgentId, agent.Id, StringComparison.Ordinal))
        {
            throw new BrokerException(BrokerFailure.PermissionDenied, Reasons.CredentialNotHolder, "The credential was not issued to the calling agent.");
        }

        // The holder's record is written with the lease.revoked records, as one append (see EndTaskHandler).
        var revoked = await _termination.RevokeWithDescendantsAsync([lease], summary => new AuditEvent
        {
            Type = AuditEventTypes.CredentialRevokedByHolder, AgentId = agent.Id, TaskId = lease.TaskId, LeaseId = lease.LeaseId, Detail = summary,
        }, cancellationToken).ConfigureAwait(false);
        await revoked.Recorded.ConfigureAwait(false);
        return revoked.Outcomes;
    }
}
