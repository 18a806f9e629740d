using Microsoft.Extensions.Logging;

namespace JitBroker.Core.Handlers;

/// <summary>
/// Steps 6–7, the one way a credential leaves the broker — new (request, delegation, later the OAuth token endpoint)
/// or renewed: record the lease first; look at the kill switch again; append the audit record. When recording fails
/// the credential is undone at its issuer; when the agent turns out blocked or the audit record cannot be written, the
/// lease is revoked. Either way the caller gets a refusal with a stable reason code and must not hand anything out.
/// </summary>
/// <remarks>
/// Once a credential is minted the caller's cancellation is no longer honoured here: a half-done commit must end
/// either committed or undone, never in between.
/// </remarks>
public sealed class CredentialCommit
{
    public const string ReasonAuditUnavailable = "audit.unavailable";

    private readonly ILeaseStore _leases;
    private readonly IKillSwitch _killSwitch;
    private readonly IAuditLog _audit;
    private readonly LeaseTermination _termination;
    private readonly TimeProvider _time;
    private readonly ILogger<CredentialCommit> _log;

    public CredentialCommit(ILeaseStore leases, IKillSwitch killSwitch, IAuditLog audit, LeaseTermination termination, TimeProvider time,
        ILogger<CredentialCommit> log)
    {
        _leases = leases;
        _killSwitch = killSwitch;
        _audit = audit;
        _termination = termination;
        _time = time;
        _log = log;
    }

    /// <summary>Commits a new credential; <paramref name="issued"/> is its audit record. Returns when the secret may leave.</summary>
    public async Task CommitIssuedAsync(MintedCredential minted, AuditEvent issued)
    {
        await BrokerTracing.TraceAsync(BrokerTracing.Record, () => RecordOrUndoAsync(minted.Issuer, minted.Lease)).ConfigureAwait(false);
        await ConfirmAsync(minted.Lease, issued).ConfigureAwait(false);
    }

    /// <summary>
    /// Commits what an issuer's renewal produced for <paramref name="lease"/> (a new expiry, for a JWT a replacement
    /// token); <paramref name="renewedEvent"/> is its audit record. Returns the updated lease once the new secret may
    /// leave. A refusal revokes the lease: the old credential dies with the new one.
    /// </summary>
    public async Task<Lease> CommitRenewedAsync(Lease lease, RenewedCredential renewed, AuditEvent renewedEvent)
    {
        var updated = await BrokerTracing.TraceAsync(BrokerTracing.Record, () => RecordRenewalAsync(lease, renewed)).ConfigureAwait(false);
        await ConfirmAsync(updated, renewedEvent).ConfigureAwait(false);
        return updated;
    }

    /// <summary>The shared tail of every commit: the kill switch's second look, then the audit record — or revocation.</summary>
    private async Task ConfirmAsync(Lease lease, AuditEvent auditEvent)
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
            BrokerTracing.Fail(auditSpan, ReasonAuditUnavailable);
            await RevokeQuietlyAsync(lease).ConfigureAwait(false);
            throw new BrokerException(BrokerFailure.Unavailable, ReasonAuditUnavailable,
                "The audit record could not be written; no credential was issued. Retry later.", auditError);
        }
    }

    private async Task RecordOrUndoAsync(ICredentialIssuer issuer, Lease lease)
    {
        try
        {
            await _leases.PutAsync(lease, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception persistError)
        {
            // A credential the broker does not track must never exist: undo it at its source.
            BrokerLog.PersistFailed(_log, lease.LeaseId, lease.IssuerKind, persistError);
            try
            {
                var undo = await issuer.RevokeAsync(lease, CancellationToken.None).ConfigureAwait(false);
                if (!undo.IsDone)
                {
                    BrokerLog.UndoFailed(_log, lease.LeaseId, lease.IssuerKind, lease.CredentialFingerprint, undo.Error ?? "unknown");
                }
            }
            catch (Exception undoError)
            {
                BrokerLog.UndoFailed(_log, lease.LeaseId, lease.IssuerKind, lease.CredentialFingerprint, undoError.GetType().Name);
            }

            throw NotRecorded(persistError);
        }
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
