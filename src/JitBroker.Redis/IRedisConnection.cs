namespace JitBroker.Redis;

/// <summary>
/// What the stores need from Redis: one command at a time from any number of concurrent callers, pipelined
/// over one connection. Thread-safe. Errors: <see cref="RedisServerException"/> for error replies,
/// <see cref="RedisConnectionException"/> (and <see cref="RedisTimeoutException"/>) when the outcome is unknown.
/// </summary>
/// <remarks>
/// Argument memory (byte arrays, <see cref="ReadOnlyMemory{T}"/>) must not change until the returned task
/// completes: it is written to the socket from the caller's buffers, not copied first. Cancelling a call
/// abandons the wait; a command already sent still runs on the server (its reply is discarded).
/// </remarks>
public interface IRedisConnection
{
    /// <summary>Sends <paramref name="command"/> with <paramref name="args"/> and returns its reply (never an error reply).</summary>
    Task<RedisValue> ExecuteAsync(string command, IReadOnlyList<RedisArg> args, CancellationToken cancellationToken = default);

    /// <summary>Runs <paramref name="script"/> by <c>EVALSHA</c>, falling back to <c>EVAL</c> on <c>NOSCRIPT</c>.</summary>
    Task<RedisValue> EvalAsync(LuaScript script, IReadOnlyList<RedisArg> keys, IReadOnlyList<RedisArg> args, CancellationToken cancellationToken = default);

    /// <summary>Readiness: true when a <c>PING</c> round trip succeeds (connecting if needed); never throws for Redis failures.</summary>
    Task<bool> PingAsync(CancellationToken cancellationToken = default);
}
