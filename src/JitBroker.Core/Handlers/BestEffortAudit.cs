using Microsoft.Extensions.Logging;

namespace JitBroker.Core.Handlers;

/// <summary>
/// Audit for events that hand nothing out (denials, attestation failures, offers, ended tasks): a failure to record
/// one is logged, never turned into a different answer. Anything that lets a credential leave the broker is audited
/// by <see cref="CredentialCommit"/> instead, which fails closed.
/// </summary>
public sealed class BestEffortAudit
{
    private readonly IAuditLog _audit;
    private readonly ILogger<BestEffortAudit> _log;

    public BestEffortAudit(IAuditLog audit, ILogger<BestEffortAudit> log)
    {
        _audit = audit;
        _log = log;
    }

    public async Task RecordAsync(AuditEvent auditEvent, CancellationToken cancellationToken = default)
    {
        try
        {
            await _audit.AppendAsync(auditEvent, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            BrokerLog.AuditEventLost(_log, auditEvent.Type, ex);
        }
    }
}
