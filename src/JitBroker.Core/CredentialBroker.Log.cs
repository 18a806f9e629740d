using Microsoft.Extensions.Logging;

namespace JitBroker.Core;

/// <summary>The broker's log lines: stable event ids, structured fields, fingerprints only.</summary>
public sealed partial class CredentialBroker
{
    [LoggerMessage(EventId = 1001, EventName = "CredentialIssued", Level = LogLevel.Information,
        Message = "Issued lease {LeaseId} to {AgentId} for task {TaskId}, audience {Audience}, credential {Fingerprint}, expires {ExpiresAt:O}")]
    private static partial void LogIssued(ILogger logger, string leaseId, string agentId, string taskId, string audience, string fingerprint, DateTimeOffset expiresAt);

    [LoggerMessage(EventId = 1002, EventName = "RequestDenied", Level = LogLevel.Information,
        Message = "Denied {AgentId} task {TaskId} action {Action} (rules {RuleIds}): {Reason}")]
    private static partial void LogDenied(ILogger logger, string agentId, string taskId, string action, IReadOnlyList<string> ruleIds, string reason);

    [LoggerMessage(EventId = 1003, EventName = "TaskEnded", Level = LogLevel.Information,
        Message = "Task {TaskId} of {AgentId} ended; {LeaseCount} lease(s) processed")]
    private static partial void LogTaskEnded(ILogger logger, string taskId, string agentId, int leaseCount);

    [LoggerMessage(EventId = 1004, EventName = "LeasePersistFailed", Level = LogLevel.Error,
        Message = "Recording lease {LeaseId} ({IssuerKind}) failed; undoing the minted credential")]
    private static partial void LogPersistFailed(ILogger logger, string leaseId, string issuerKind, Exception exception);

    [LoggerMessage(EventId = 1005, EventName = "UndoFailed", Level = LogLevel.Critical,
        Message = "Could not undo untracked credential {Fingerprint} of lease {LeaseId} ({IssuerKind}): {Error}")]
    private static partial void LogUndoFailed(ILogger logger, string leaseId, string issuerKind, string fingerprint, string error, Exception? exception);

    [LoggerMessage(EventId = 1006, EventName = "AuditFailed", Level = LogLevel.Error,
        Message = "The audit record for lease {LeaseId} could not be written; revoking the credential (fail closed)")]
    private static partial void LogAuditFailed(ILogger logger, string leaseId, Exception exception);

    [LoggerMessage(EventId = 1007, EventName = "AuditEventLost", Level = LogLevel.Error,
        Message = "Audit event {EventType} could not be written")]
    private static partial void LogAuditEventLost(ILogger logger, string eventType, Exception exception);
}
