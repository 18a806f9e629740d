using StackExchange.Redis;

namespace JitBroker.Redis;

/// <summary>
/// A write ran on the primary, but fewer replicas than <see cref="RedisOptions.MinReplicasToAck"/> acknowledged it
/// within <see cref="RedisOptions.ReplicaAckTimeout"/> (or it was not sent: see <see cref="RedisConnection"/>). Its
/// outcome is like a connection failure's: it may survive a failover or vanish. Cause code
/// <see cref="RedisFailures.NotReplicated"/>.
/// </summary>
public sealed class RedisNotReplicatedException : RedisException
{
    public RedisNotReplicatedException(string message)
        : base(message)
    {
    }

    public RedisNotReplicatedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public RedisNotReplicatedException()
        : base("Too few replicas acknowledged the write.")
    {
    }
}
