using JitBroker.Leases.Redis;
using JitBroker.Redis;
using JitBroker.Redis.Tests.Harness;
using NUnit.Framework;

// In the root namespace, like SharedRedis: NUnit tears a set-up fixture down after the tests of its namespace, and the
// cluster suites of Stores (outside Redis.Cluster) started the cluster again after that teardown, leaving six
// redis-server processes running after the assembly.
namespace JitBroker.Leases.Tests;

/// <summary>
/// One real Redis Cluster (3 primaries + 3 replicas on loopback, <see cref="RedisClusterProcess"/>) for the cluster
/// conformance runs of this assembly, started on first use and torn down after the last test of the assembly. The stores connect as the
/// documented ACL user; tests stay apart by key prefix. The failover tests start clusters of their own.
/// </summary>
[SetUpFixture]
public sealed class SharedCluster
{
    public const int Buckets = 16;
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static RedisClusterProcess? _cluster;
    private static RedisConnection? _connection;
    private static int _prefixes;

    internal static async Task<RedisClusterProcess> ClusterAsync()
    {
        await Gate.WaitAsync();
        try
        {
            return _cluster ??= await RedisClusterProcess.StartAsync();
        }
        finally
        {
            Gate.Release();
        }
    }

    public static async Task<RedisConnection> ConnectionAsync()
    {
        var cluster = await ClusterAsync();
        return _connection ??= new RedisConnection(BrokerOptions(cluster));
    }

    /// <summary>What a broker replica on this cluster is configured with: the documented user, 16 buckets.</summary>
    internal static RedisOptions BrokerOptions(RedisClusterProcess cluster) => new()
    {
        ClusterEndpoints = [.. cluster.Endpoints],
        User = DocumentedAcl.BrokerUser,
        Password = DocumentedAcl.BrokerPassword,
        Buckets = Buckets,
    };

    public static RedisKeyLayout NewLayout() => new($"jitbroker:c{Interlocked.Increment(ref _prefixes)}:", Buckets);

    [OneTimeTearDown]
    public async Task StopCluster()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
            _connection = null;
        }

        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
            _cluster = null;
        }
    }
}
