using Microsoft.Extensions.Logging;

namespace JitBroker.Policy;

/// <summary>Policy log events (EventIds 41xx). Policy text is not secret; errors quote it with positions.</summary>
internal static partial class PolicyLog
{
    [LoggerMessage(EventId = 4101, EventName = "PolicyLoaded", Level = LogLevel.Information,
        Message = "Policy {Version} loaded from {Path}: {RuleCount} rules and {DelegationCount} delegations in {FileCount} files, {ContentHash}")]
    public static partial void PolicyLoaded(ILogger logger, long version, string path, int ruleCount, int delegationCount, int fileCount, string contentHash);

    [LoggerMessage(EventId = 4102, EventName = "PolicyReloaded", Level = LogLevel.Information,
        Message = "Policy {Version} now in force from {Path}: {RuleCount} rules and {DelegationCount} delegations in {FileCount} files, {ContentHash} (was {PreviousContentHash})")]
    public static partial void PolicyReloaded(ILogger logger, long version, string path, int ruleCount, int delegationCount, int fileCount, string contentHash, string previousContentHash);

    [LoggerMessage(EventId = 4103, EventName = "PolicyReloadFailed", Level = LogLevel.Error,
        Message = "Policy reload from {Path} failed; policy {Version} ({ContentHash}) stays in force: {Problem}")]
    public static partial void PolicyReloadFailed(ILogger logger, string path, long version, string contentHash, string problem);

    [LoggerMessage(EventId = 4104, EventName = "PolicyReloadSubscriberFailed", Level = LogLevel.Error,
        Message = "A PolicyReloaded subscriber threw; the reload itself stands")]
    public static partial void SubscriberFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 4105, EventName = "PolicyReloadCrashed", Level = LogLevel.Error,
        Message = "A scheduled policy reload from {Path} failed unexpectedly; the policy in force is unchanged")]
    public static partial void ReloadCrashed(ILogger logger, string path, Exception exception);
}
