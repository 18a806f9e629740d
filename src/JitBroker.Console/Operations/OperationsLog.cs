using Microsoft.Extensions.Logging;

namespace JitBroker.WebConsole.Operations;

/// <summary>The operations pages' log events (ids 4450-4499). Principals, lease and batch ids only, never a token.</summary>
internal static partial class OperationsLog
{
    [LoggerMessage(EventId = 4450, EventName = "ConsoleLeaseRevoked", Level = LogLevel.Information,
        Message = "Lease {LeaseId} scheduled for revocation (batch {BatchId}) by {Principal} on the console")]
    public static partial void LeaseRevoked(ILogger logger, string leaseId, string batchId, string principal);

    [LoggerMessage(EventId = 4451, EventName = "ConsoleAgentBlocked", Level = LogLevel.Warning,
        Message = "Agents matching {Pattern} blocked by {Principal} on the console; {Scheduled} leases scheduled (operation {OperationId})")]
    public static partial void AgentBlocked(ILogger logger, string pattern, string principal, long scheduled, string operationId);

    [LoggerMessage(EventId = 4452, EventName = "ConsoleAgentUnblocked", Level = LogLevel.Information,
        Message = "Block on {Pattern} lifted by {Principal} on the console (found: {Found})")]
    public static partial void AgentUnblocked(ILogger logger, string pattern, string principal, bool found);
}
