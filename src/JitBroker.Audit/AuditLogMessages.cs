using Microsoft.Extensions.Logging;

namespace JitBroker.Audit;

/// <summary>Log events of the audit log (EventIds 4000-4099). Never a secret: events carry fingerprints only.</summary>
internal static partial class AuditLogMessages
{
    [LoggerMessage(EventId = 4001, EventName = "AuditLogOpened", Level = LogLevel.Information,
        Message = "Audit log open: continuing the chain after seq {Seq}")]
    public static partial void Opened(ILogger logger, long seq);

    [LoggerMessage(EventId = 4002, EventName = "AuditWriteFailed", Level = LogLevel.Error,
        Message = "Audit write of {Count} record(s) failed; those appends fail ({Mode})")]
    public static partial void WriteFailed(ILogger logger, int count, string mode, Exception exception);

    [LoggerMessage(EventId = 4003, EventName = "AuditEventDropped", Level = LogLevel.Error,
        Message = "FailOpen: audit event {Type} (agent {AgentId}, task {TaskId}, lease {LeaseId}) was NOT recorded: {Reason}")]
    public static partial void EventDropped(ILogger logger, string type, string? agentId, string? taskId, string? leaseId, string reason, Exception exception);

    [LoggerMessage(EventId = 4004, EventName = "AuditCheckpointWritten", Level = LogLevel.Debug,
        Message = "Audit checkpoint at seq {Seq} signs head seq {HeadSeq} with key {KeyId}")]
    public static partial void CheckpointWritten(ILogger logger, long seq, long headSeq, string keyId);

    [LoggerMessage(EventId = 4005, EventName = "AuditSyncFailed", Level = LogLevel.Error,
        Message = "Audit fsync failed; records written since the last fsync may not survive a power loss")]
    public static partial void SyncFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 4006, EventName = "AuditReopenFailed", Level = LogLevel.Error,
        Message = "Audit sink could not be re-opened; appends keep failing until it can")]
    public static partial void ReopenFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 4007, EventName = "AuditCloseFailed", Level = LogLevel.Error,
        Message = "Audit log did not close cleanly (final checkpoint or fsync failed)")]
    public static partial void CloseFailed(ILogger logger, Exception exception);

    // 402x: the audit volume's free-space watermark (readiness). Logged at most once per DiskCheckInterval.
    [LoggerMessage(EventId = 4020, EventName = "AuditDiskLow", Level = LogLevel.Error,
        Message = "Audit volume of {Directory} has {AvailableBytes} bytes ({PercentFree:F1} %) free, below the watermark ({MinFreeBytes} bytes, {MinFreePercent} %): not ready")]
    public static partial void DiskLow(ILogger logger, string directory, long availableBytes, double percentFree, long minFreeBytes, double minFreePercent);

    [LoggerMessage(EventId = 4021, EventName = "AuditDiskRecovered", Level = LogLevel.Information,
        Message = "Audit volume of {Directory} is above its free-space watermark again: ready")]
    public static partial void DiskRecovered(ILogger logger, string directory);

    [LoggerMessage(EventId = 4022, EventName = "AuditDiskUnmeasurable", Level = LogLevel.Error,
        Message = "Free space of the audit volume of {Directory} cannot be measured: not ready")]
    public static partial void DiskUnmeasurable(ILogger logger, string directory, Exception exception);
}
