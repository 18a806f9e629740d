using StackExchange.Redis;

namespace JitBroker.Redis;

/// <summary>
/// The one place that decides what counts as "Redis failed" and names the cause with a stable code. The
/// stores turn every such failure into UNAVAILABLE; the cause code goes to logs and to
/// <see cref="Exception.Data"/> (key <see cref="CauseKey"/>), never to the caller's message.
/// </summary>
public static class RedisFailures
{
    /// <summary>Key under which the stores put <see cref="CauseOf"/> into their exception's <see cref="Exception.Data"/>.</summary>
    public const string CauseKey = "redis.cause";

    public const string Unreachable = "redis.unreachable";
    public const string Timeout = "redis.timeout";
    public const string ReadOnly = "redis.readonly";

    /// <summary>Too few replicas acknowledged a write (our <c>WAIT</c>, or the server's <c>min-replicas-to-write</c>: <c>NOREPLICAS</c>).</summary>
    public const string NotReplicated = "redis.noreplicas";
    public const string NoScript = "redis.noscript";
    public const string OutOfMemory = "redis.oom";
    public const string NoPermission = "redis.noperm";
    public const string Loading = "redis.loading";
    public const string Busy = "redis.busy";
    public const string ClusterDown = "redis.clusterdown";
    public const string Redirect = "redis.redirect";
    public const string ErrorReply = "redis.error";

    /// <summary>
    /// True for every failure StackExchange.Redis reports about Redis itself: error replies, connection
    /// failures (nothing is queued: see <see cref="RedisConnection"/>) and timeouts. Programming errors
    /// (argument exceptions, disposed connection) are not Redis failures.
    /// </summary>
    public static bool IsRedisFailure(Exception exception) =>
        exception is RedisException or RedisTimeoutException;

    /// <summary>A stable code for the cause, one of the constants of this class.</summary>
    public static string CauseOf(Exception exception) => exception switch
    {
        RedisTimeoutException => Timeout,
        RedisNotReplicatedException => NotReplicated,
        RedisConnectionException => Unreachable,
        RedisServerException server => server.Kind switch
        {
            RedisErrorKind.ReadOnly or RedisErrorKind.MasterDown => ReadOnly,
            RedisErrorKind.NoScript => NoScript,
            RedisErrorKind.NoReplicas => NotReplicated,
            RedisErrorKind.OutOfMemory => OutOfMemory,
            RedisErrorKind.NoPermission or RedisErrorKind.NoAuth or RedisErrorKind.WrongPass => NoPermission,
            RedisErrorKind.Loading => Loading,
            RedisErrorKind.Busy => Busy,
            RedisErrorKind.ClusterDown or RedisErrorKind.TryAgain => ClusterDown,
            RedisErrorKind.Moved or RedisErrorKind.Ask or RedisErrorKind.CrossSlot or RedisErrorKind.UnknownRedirectTarget => Redirect,
            RedisErrorKind.ConnectionFault => Unreachable,
            RedisErrorKind.Timeout => Timeout,
            // A script stopped by the cluster because a key it touched is not (or no longer) on this node: the slot is
            // migrating (ASK / TRYAGAIN inside a script) or moved. Another attempt after the topology settles will do.
            _ when IsClusterRefusalInScript(server.Message) => Redirect,
            _ => ErrorReply,
        },
        _ => ErrorReply,
    };

    private static bool IsClusterRefusalInScript(string message) =>
        message.Contains("non local key in a cluster node", StringComparison.Ordinal)
        || message.Contains("TRYAGAIN", StringComparison.Ordinal)
        || message.Contains("do not hash to the same slot", StringComparison.Ordinal);
}
