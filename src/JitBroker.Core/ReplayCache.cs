namespace JitBroker.Core;

public enum ReplayVerdict
{
    /// <summary>First use of this evidence: recorded.</summary>
    FirstUse,
    /// <summary>Seen before for the same request binding (an idempotent retry, allowed in bound mode).</summary>
    SameBinding,
    /// <summary>Seen before for a different request: a replay.</summary>
    Replayed,
}

/// <summary>
/// Remembers presented identity evidence until it can no longer be valid, so a captured token cannot be
/// used twice. Shared by all replicas when a shared store is configured. Implementations must make
/// check-and-record atomic.
/// </summary>
public interface IReplayCache
{
    /// <summary>
    /// Records <paramref name="replayKey"/> bound to <paramref name="binding"/> (a hash of the request it was
    /// used for) until <paramref name="keepUntil"/>, unless already present. Returns how this use relates to
    /// earlier ones. Throws <see cref="BrokerException"/> (Unavailable) when the store cannot be reached.
    /// </summary>
    ValueTask<ReplayVerdict> CheckAndRecordAsync(string replayKey, string binding, DateTimeOffset keepUntil, CancellationToken cancellationToken = default);
}
