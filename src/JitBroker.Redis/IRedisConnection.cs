using StackExchange.Redis;

namespace JitBroker.Redis;

/// <summary>
/// What the stores need from Redis, over StackExchange.Redis: one multiplexed connection shared by any number
/// of concurrent callers. Thread-safe. Failures are StackExchange.Redis' own exceptions
/// (<see cref="RedisServerException"/> for an error reply, <see cref="RedisConnectionException"/> and
/// <see cref="RedisTimeoutException"/> when the outcome is unknown); <see cref="RedisFailures"/> tells them apart.
/// </summary>
/// <remarks>
/// Nothing is queued while Redis is unreachable (fail fast) and nothing is retried by the adapter: after a
/// connection failure a write ran entirely or not at all, and only the caller knows whether repeating it is
/// safe. Cancelling a call abandons the wait; a command already sent still runs on the server.
/// </remarks>
public interface IRedisConnection
{
    /// <summary>
    /// Sends <paramref name="command"/> with <paramref name="args"/> (strings, numbers, byte arrays, <see cref="RedisKey"/>s)
    /// and returns its reply. Like every <see cref="ValueTask{TResult}"/> here it may be pooled: await it once (or call
    /// <see cref="ValueTask{TResult}.AsTask"/> once) and never after.
    /// </summary>
    ValueTask<RedisResult> ExecuteAsync(string command, IReadOnlyList<object> args, CancellationToken cancellationToken = default);

    /// <summary>
    /// Sends <paramref name="commands"/> together in one write (a pipeline, not a transaction: each runs on its own,
    /// in order) and returns their replies in order. For many small commands at once — one socket write and one
    /// read on the server instead of one per command. The first failure (an error reply included) fails the call.
    /// </summary>
    Task<RedisResult[]> ExecuteManyAsync(IReadOnlyList<PipelinedCommand> commands, CancellationToken cancellationToken = default);

    /// <summary>Runs <paramref name="script"/> atomically (<c>EVALSHA</c>, re-sent with <c>EVAL</c> when the server answers <c>NOSCRIPT</c>).</summary>
    ValueTask<RedisResult> EvalAsync(LuaScript script, IReadOnlyList<RedisKey> keys, IReadOnlyList<RedisValue> args, CancellationToken cancellationToken = default);

    /// <summary>
    /// Like <see cref="EvalAsync"/>, for ledger writes that must survive a failover: when
    /// <see cref="RedisOptions.MinReplicasToAck"/> is above 0, the script is followed by <c>WAIT</c> in the same batch
    /// on the same connection (one <c>WAIT</c> for all durable writes gathered meanwhile: group commit), and fewer
    /// acknowledgements than required throw <see cref="RedisNotReplicatedException"/>
    /// (the script ran on the primary; whether it survives a failover is unknown).
    /// </summary>
    ValueTask<RedisResult> EvalDurableAsync(LuaScript script, IReadOnlyList<RedisKey> keys, IReadOnlyList<RedisValue> args, CancellationToken cancellationToken = default);

    /// <summary>Readiness: true when a <c>PING</c> round trip succeeds; never throws for Redis failures.</summary>
    Task<bool> PingAsync(CancellationToken cancellationToken = default);
}

/// <summary>One command of <see cref="IRedisConnection.ExecuteManyAsync"/>: its name and arguments (as for <see cref="IRedisConnection.ExecuteAsync"/>).</summary>
public readonly record struct PipelinedCommand(string Command, object[] Args);
