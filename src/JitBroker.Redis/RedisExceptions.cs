namespace JitBroker.Redis;

/// <summary>Base of every failure the Redis client reports.</summary>
public class RedisException : Exception
{
    public RedisException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}

/// <summary>
/// The server answered with an error reply (<c>-ERR …</c>, <c>-NOSCRIPT …</c>, <c>-READONLY …</c>). The
/// connection is still in step and usable. <see cref="Exception.Message"/> is the server's message.
/// </summary>
public sealed class RedisServerException : RedisException
{
    public RedisServerException(string message)
        : base(message)
    {
        var space = message.IndexOf(' ', StringComparison.Ordinal);
        ErrorCode = space < 0 ? message : message[..space];
    }

    /// <summary>The error's first word, for example <c>ERR</c>, <c>NOSCRIPT</c>, <c>WRONGPASS</c>, <c>READONLY</c>.</summary>
    public string ErrorCode { get; }
}

/// <summary>
/// The command may or may not have reached the server: connecting failed, the connection dropped, or the
/// client is backing off after failed attempts. Callers must treat non-idempotent commands as "outcome unknown".
/// </summary>
public class RedisConnectionException : RedisException
{
    public RedisConnectionException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}

/// <summary>
/// A command got no reply within <see cref="RedisOptions.CommandTimeout"/>. Replies are matched to commands
/// by order, so the connection it was sent on is torn down (every other command pending on it fails with a
/// <see cref="RedisConnectionException"/>) and the next command connects afresh.
/// </summary>
public sealed class RedisTimeoutException : RedisConnectionException
{
    public RedisTimeoutException(string message)
        : base(message)
    {
    }
}
