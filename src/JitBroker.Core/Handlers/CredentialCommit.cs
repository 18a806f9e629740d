using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace JitBroker.Core.Handlers;

/// <summary>
/// The one way a credential leaves the broker — new (request, delegation, later the OAuth token endpoint) or renewed.
/// For a new one: 5 mint; then for both: 6 record the lease; look at the kill switch again; 7 append the audit record.
/// When recording fails the credential is undone at its issuer; when the agent turns out blocked or the audit record
/// cannot be written, the lease is revoked. Either way the caller gets a refusal with a stable reason code and nothing
/// is handed out.
/// </summary>
/// <remarks>
/// Once a credential is minted the caller's cancellation is no longer honoured: a half-done commit must end either
/// committed or undone, never in between.
/// </remarks>
public sealed class CredentialCommit
{

    private readonly IssuerRegistry _issuers;
    private readonly ILeaseLedger _leases;
    private readonly IKillSwitch _killSwitch;
    private readonly IAuditLog _audit;
    private readonly LeaseTermination _termination;
    private readonly BrokerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<CredentialCommit> _log;

    public CredentialCommit(IssuerRegistry issuers, ILeaseLedger leases, IKillSwitch killSwitch, IAuditLog audit, LeaseTermination termination,
        BrokerOptions options, TimeProvider time, ILogger<CredentialCommit> log)
    {
        _issuers = issuers;
        _leases = leases;
        _killSwitch = killSwitch;
        _audit = audit;
        _termination = termination;
        _options = options;
        _time = time;
        _log = log;
    }

    /// <summary>
    /// Mints a credential of the granted kind (lifetime clamped to the broker's limits) and commits it. A delegated
    /// credential names its <paramref name="parentLeaseId"/> and <paramref name="delegation"/> chain. Returns once the
    /// secret may leave.
    /// </summary>
    /// <param name="decidedIntent">What policy read to grant it (<see cref="DecidedIntent.Keep"/>), kept on the lease so a reload or renewal decides on the same ask; none for a delegated lease.</param>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<CredentialGrantResult> IssueAsync(WorkloadIdentity agent, string taskId, TaskIntent intent, Grant grant, IReadOnlyList<string> ruleIds,
        string? parentLeaseId = null, DelegationChain? delegation = null, DecidedIntent? decidedIntent = null, QuotaLimits? quota = null,
        CancellationToken cancellationToken = default)
    {
        var ttl = grant.Ttl < _options.MaxTtl ? grant.Ttl : _options.MaxTtl;
        if (ttl < _options.MinTtl)
        {
            throw new BrokerException(BrokerFailure.PermissionDenied, Reasons.PolicyDenied,
                $"The granted lifetime ({ttl.TotalSeconds:0}s) is below the broker minimum.");
        }

        if (ttl != grant.Ttl)
        {
            grant = grant with { Ttl = ttl }; // a copy only when clamped: the grant is immutable, so it can be passed on as it is
        }

        var issuer = _issuers.Get(grant.CredentialKind);
        // A delegated lease shares its parent's placement (a delegation tree stays in one ledger bucket); a root
        // lease takes its task's, so a task's leases stay together (docs/redis.md, "Redis Cluster").
        // Under a per-agent cap all the agent's root leases share one placement, so a sharded ledger counts them in one step.
        var caps = quota is null ? null : new ActiveLeaseCaps(quota.MaxActiveLeasesPerAgent, quota.MaxActiveLeasesPerTask, _time.GetUtcNow());
        var leaseId = LeaseIds.New(parentLeaseId is not null ? LeaseIds.PlacementOf(parentLeaseId)
            : caps?.PerAgent is not null ? LeaseIds.PlacementForAgent(agent.Id)
            : LeaseIds.PlacementFor(agent.Id, taskId));
        // The steps' spans inline, not BrokerTracing.TraceAsync(lambda): no closure, delegates or Task per credential.
        IssuedCredential credential;
        using (var mintSpan = BrokerTracing.Step(BrokerTracing.Mint))
        {
            try
            {
                credential = await issuer.IssueAsync(new IssueRequest(leaseId, agent, taskId, grant, delegation), cancellationToken).ConfigureAwait(false);
            }
            catch (BrokerException ex)
            {
                BrokerTracing.Fail(mintSpan, ex.Reason);
                throw;
            }
        }

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
            Owner = grant.Owner,
            AgentFacts = AgentFacts.From(agent),
            DecidedIntent = decidedIntent ?? DecidedIntent.None,
            // The binding the credential was minted with (agent is the worker for a delegated credential, so a child is
            // bound to the worker's own proof key, never its parent's), kept so renewal re-binds to the same.
            ProofKeyThumbprint = agent.ProofKeyThumbprint,
            CertificateThumbprint = agent.CertificateThumbprint,
        };

        using (var recordSpan = BrokerTracing.Step(BrokerTracing.Record))
        {
            // Recorded here rather than in a helper of its own: one state machine for the commit, not two. Only the
            // failure path (undo, then the refusal) is a separate method.
            try
            {
                await (caps is null || caps.IsEmpty
                    ? _leases.PutAsync(lease, CancellationToken.None)
                    : _leases.PutWithinCapsAsync(lease, caps, CancellationToken.None)).ConfigureAwait(false);
            }
            catch (Exception persistError)
            {
                var refusal = await UndoAsync(issuer, lease, persistError).ConfigureAwait(false);
                BrokerTracing.Fail(recordSpan, refusal.Reason);
                throw refusal;
            }
        }

        await ConfirmAsync(lease, new AuditEvent
        {
            Type = delegation is null ? AuditEventTypes.CredentialIssued : AuditEventTypes.CredentialDelegated,
            AgentId = agent.Id, TaskId = taskId, Intent = intent, Decision = "allow",
            RuleIds = ruleIds, LeaseId = leaseId, ParentLeaseId = parentLeaseId, CredentialFingerprint = credential.Fingerprint, Owner = grant.Owner,
            Detail = delegation is null
                ? $"{issuer.Kind} for {grant.Scope.Audience}, expires {lease.ExpiresAt:O}"
                : $"{issuer.Kind} for {grant.Scope.Audience}, expires {lease.ExpiresAt:O}; subject {delegation.Subject}, actors {string.Join(" <- ", delegation.Actors)}",
        }).ConfigureAwait(false);
        BrokerLog.Issued(_log, leaseId, agent.Id, taskId, grant.Scope.Audience, credential.Fingerprint, lease.ExpiresAt);
        return new CredentialGrantResult(lease, credential) { Delegation = delegation };
    }

    /// <summary>
    /// Commits what the issuer's renewal of <paramref name="lease"/> produced (a new expiry; for a JWT a replacement
    /// token), renewed for <paramref name="agent"/> under <paramref name="ruleIds"/>. Returns the updated lease once the
    /// new secret may leave. A refusal revokes the lease: the old credential dies with the new one.
    /// </summary>
    public async Task<Lease> CommitRenewalAsync(WorkloadIdentity agent, Lease lease, RenewedCredential renewed, IReadOnlyList<string> ruleIds)
    {
        var updated = await BrokerTracing.TraceAsync(BrokerTracing.Record, () => RecordRenewalAsync(lease, renewed)).ConfigureAwait(false);
        await ConfirmAsync(updated, new AuditEvent
        {
            Type = AuditEventTypes.CredentialRenewed, AgentId = agent.Id, TaskId = lease.TaskId, LeaseId = lease.LeaseId,
            RuleIds = ruleIds, CredentialFingerprint = updated.CredentialFingerprint, Detail = $"expires {updated.ExpiresAt:O}", Owner = updated.Owner,
        }).ConfigureAwait(false);
        return updated;
    }

    /// <summary>The shared tail of every commit: the kill switch's second look, then the audit record — or revocation.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ConfirmAsync(Lease lease, AuditEvent auditEvent)
    {
        // A block stored while this credential was being minted either shows up here, or came after the lease was
        // recorded and the block's own scheduling revokes it. Either way no live credential leaves the broker once
        // BlockAgent has returned.
        if (await _killSwitch.FindBlockAsync(lease.AgentId, _time.GetUtcNow(), CancellationToken.None).ConfigureAwait(false) is { } block)
        {
            await RevokeQuietlyAsync(lease).ConfigureAwait(false);
            throw AgentAdmission.Blocked(block);
        }

        using var auditSpan = BrokerTracing.Step(BrokerTracing.Audit);
        try
        {
            await _audit.AppendAsync(auditEvent, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception auditError)
        {
            // Fail closed: a credential the audit record does not show must not leave the broker.
            BrokerLog.AuditFailed(_log, lease.LeaseId, auditError);
            BrokerTracing.Fail(auditSpan, Reasons.Audit.Unavailable);
            await RevokeQuietlyAsync(lease).ConfigureAwait(false);
            throw new BrokerException(BrokerFailure.Unavailable, Reasons.Audit.Unavailable,
                "The audit record could not be written; no credential was issued. Retry later.", auditError);
        }
    }

    /// <summary>
    /// The lease could not be recorded: undoes the credential at its issuer and returns the refusal to throw
    /// (<see cref="NotRecorded"/>). Never throws itself.
    /// </summary>
    private async Task<BrokerException> UndoAsync(ICredentialIssuer issuer, Lease lease, Exception persistError)
    {
        // A credential the broker does not track must never exist: undo it at its source. (A cap refusal is no
        // store failure: the quota path counts and audits it.)
        if (persistError is not BrokerException { Failure: BrokerFailure.ResourceExhausted })
        {
            BrokerLog.PersistFailed(_log, lease.LeaseId, lease.IssuerKind, persistError);
        }

        try
        {
            var undo = await issuer.RevokeAsync(lease, CancellationToken.None).ConfigureAwait(false);
            if (!undo.IsDone)
            {
                BrokerLog.UndoFailed(_log, lease.LeaseId, lease.IssuerKind, lease.CredentialFingerprint, undo.Error ?? "unknown", null);
            }
        }
        catch (Exception undoError)
        {
            BrokerLog.UndoFailed(_log, lease.LeaseId, lease.IssuerKind, lease.CredentialFingerprint, "the issuer threw", undoError);
        }

        return NotRecorded(persistError);
    }

    private async Task<Lease> RecordRenewalAsync(Lease lease, RenewedCredential renewed)
    {
        Lease? updated;
        try
        {
            updated = await _leases.RenewAsync(lease.LeaseId, renewed.ExpiresAt, renewed.Fingerprint ?? lease.CredentialFingerprint, CancellationToken.None)
                .ConfigureAwait(false);
        }
        catch (Exception persistError)
        {
            // The issuer has extended (or replaced) the credential but the ledger does not say so: end the lease, so
            // nothing outlives what the ledger tracks. If the ledger is down this fails too, and the lease's recorded
            // expiry still bounds it in the schedule.
            BrokerLog.PersistFailed(_log, lease.LeaseId, lease.IssuerKind, persistError);
            await RevokeQuietlyAsync(lease).ConfigureAwait(false);
            throw NotRecorded(persistError);
        }

        // Revoked (or being revoked) meanwhile: the revocation in progress covers whatever the issuer just renewed.
        return updated ?? throw LeaseUsability.NotActive("The lease was revoked while it was being renewed.");
    }

    /// <summary>A refusal the ledger made on purpose (the parent was revoked meanwhile) is the answer; anything else means it could not be reached.</summary>
    private static BrokerException NotRecorded(Exception persistError) =>
        persistError is BrokerException { Failure: not BrokerFailure.Unavailable } refusal
            ? refusal
            : new BrokerException(BrokerFailure.Unavailable, Reasons.LeaseStoreUnavailable,
                "The lease could not be recorded; no credential was issued. Retry later.", persistError);

    /// <summary>Revokes a recorded lease through the normal path, so a failure stays scheduled and is retried.</summary>
    private async Task RevokeQuietlyAsync(Lease lease)
    {
        try
        {
            await _termination.RevokeAsync([lease], CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The lease stays in the schedule and expires; the sweeper revokes it then.
            BrokerLog.PersistFailed(_log, lease.LeaseId, lease.IssuerKind, ex);
        }
    }
}
