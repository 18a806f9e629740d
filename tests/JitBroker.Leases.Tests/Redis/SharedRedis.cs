using JitBroker.Redis;
using JitBroker.Redis.Tests.Harness;
using NUnit.Framework;

namespace JitBroker.Leases.Tests;

/// <summary>
/// One redis-server (AOF off) for every Redis store test in this assembly (the set-up fixture sits in the root
/// namespace, so it is torn down after all of them), started on first use and killed
/// after the last. Tests stay apart by key prefix, not by flushing, so they could run in parallel.
/// The stores run as the broker's ACL user created exactly as docs/redis.md says (<see cref="DocumentedAcl"/>);
/// probes go through <see cref="AdminAsync"/>.
/// </summary>
[SetUpFixture]
public sealed class SharedRedis
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static RedisServerProcess? _server;
    private static RedisConnection? _connection;
    private static RedisConnection? _admin;
    private static int _prefixes;

    internal static async Task<RedisServerProcess> ServerAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (_server is null)
            {
                var server = await RedisServerProcess.StartServerAsync("--requirepass", DocumentedAcl.AdminPassword);
                _admin = DocumentedAcl.Admin(server.Endpoint);
                await DocumentedAcl.CreateUsersAsync(_admin);
                _server = server;
            }

            return _server;
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>The connection the stores under test share, as broker replicas' stores share theirs.</summary>
    public static async Task<RedisConnection> ConnectionAsync()
    {
        var server = await ServerAsync();
        return _connection ??= new RedisConnection(BrokerOptions(server));
    }

    /// <summary>The options a broker replica uses: the documented ACL user.</summary>
    internal static RedisOptions BrokerOptions(RedisServerProcess server) =>
        new() { Endpoint = server.Endpoint, User = DocumentedAcl.BrokerUser, Password = DocumentedAcl.BrokerPassword };

    /// <summary>The default user with admin commands, for probes the broker's user may not (and need not) run.</summary>
    public static async Task<RedisConnection> AdminAsync()
    {
        await ServerAsync();
        return _admin!;
    }

    /// <summary>A key prefix no other test uses.</summary>
    public static string NewPrefix() => $"jitbroker:t{Interlocked.Increment(ref _prefixes)}:";

    [OneTimeTearDown]
    public async Task StopServer()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
            _connection = null;
        }

        if (_admin is not null)
        {
            await _admin.DisposeAsync();
            _admin = null;
        }

        if (_server is not null)
        {
            await _server.DisposeAsync();
            _server = null;
        }
    }
}
