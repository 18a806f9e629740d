using JitBroker.Core;
using JitBroker.Redis;

namespace JitBroker.Leases;

/// <summary>Reason codes of the stores in this project, and the one way a Redis failure reaches a caller.</summary>
public static class StoreFailures
{
    public const string ReplayCacheUnavailable = "replay_cache.unavailable";
    public const string KillSwitchUnavailable = "kill_switch.unavailable";
    public const string ApprovalStoreUnavailable = "approval_store.unavailable";

    /// <summary>
    /// Any Redis failure — unreachable, timed out, or an error reply such as OOM or READONLY — means the store
    /// cannot be trusted right now: UNAVAILABLE, with a message that names the store and nothing else.
    /// </summary>
    /// The stable cause (<see cref="RedisFailures.CauseOf"/>: <c>redis.timeout</c>, <c>redis.readonly</c> …) travels in
    /// <see cref="Exception.Data"/> under <see cref="RedisFailures.CauseKey"/>, for logs and metrics.
    internal static BrokerException Unavailable(string reason, string store, Exception cause)
    {
        var error = new BrokerException(BrokerFailure.Unavailable, reason, $"The {store} is unavailable; retry later.", cause);
        error.Data[RedisFailures.CauseKey] = RedisFailures.CauseOf(cause);
        return error;
    }
}
