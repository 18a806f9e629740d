using Microsoft.Extensions.Logging;

namespace JitBroker.Core.Handlers;

/// <summary>
/// The request path's log lines, shared by the handlers and the commit step: stable event ids (the ids and names
/// the former CredentialBroker used), structured fields, fingerprints only.
/// </summary>
internal static partial class BrokerLog
{
    [LoggerMessage(EventId = 1001, EventName = "CredentialIssued", Level = LogLevel.Information,
        Message = "Issued lease {LeaseId} to {AgentId} for task {TaskId}, audience {Audience}, credential {Fingerprint}, expires {ExpiresAt:O}")]
    public static partial void Issued(ILogger logger, string leaseId, string agentId, string taskId, string audience, string fingerprint, DateTimeOffset expiresAt);

    [LoggerMessage(EventId = 1002, EventName = "RequestDenied", Level = LogLevel.Information,
        Message = "Denied {AgentId} task {TaskId} action {Action} (rules {RuleIds}): {Reason}")]
    public static partial void Denied(ILogger logger, string agentId, string taskId, string action, IReadOnlyList<string> ruleIds, string reason);

    [LoggerMessage(EventId = 1003, EventName = "TaskEnded", Level = LogLevel.Information,
        Message = "Task {TaskId} of {AgentId} ended; {LeaseCount} lease(s) processed")]
    public static partial void TaskEnded(ILogger logger, string taskId, string agentId, int leaseCount);

    [LoggerMessage(EventId = 1004, EventName = "LeasePersistFailed", Level = LogLevel.Error,
        Message = "Recording lease {LeaseId} ({IssuerKind}) failed; undoing the minted credential")]
    public static partial void PersistFailed(ILogger logger, string leaseId, string issuerKind, Exception exception);

    [LoggerMessage(EventId = 1005, EventName = "UndoFailed", Level = LogLevel.Critical,
        Message = "Could not undo untracked credential {Fingerprint} of lease {LeaseId} ({IssuerKind}): {Error}")]
    public static partial void UndoFailed(ILogger logger, string leaseId, string issuerKind, string fingerprint, string error, Exception? exception);

    [LoggerMessage(EventId = 1006, EventName = "AuditFailed", Level = LogLevel.Error,
        Message = "The audit record for lease {LeaseId} could not be written; revoking the credential (fail closed)")]
    public static partial void AuditFailed(ILogger logger, string leaseId, Exception exception);

    [LoggerMessage(EventId = 1007, EventName = "AuditEventLost", Level = LogLevel.Error,
        Message = "Audit event {EventType} could not be written")]
    public static partial void AuditEventLost(ILogger logger, string eventType, Exception exception);
}
