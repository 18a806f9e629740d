using JitBroker.Redis;
using JitBroker.Redis.Tests.Harness;
using NUnit.Framework;

namespace JitBroker.Leases.Tests;

/// <summary>
/// One redis-server (AOF off) for every Redis store test in this assembly (the set-up fixture sits in the root
/// namespace, so it is torn down after all of them), started on first use and killed
/// after the last. Tests stay apart by key prefix, not by flushing, so they could run in parallel.
/// </summary>
[SetUpFixture]
public sealed class SharedRedis
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static RedisServerProcess? _server;
    private static RedisConnection? _connection;
    private static int _prefixes;

    internal static async Task<RedisServerProcess> ServerAsync()
    {
        await Gate.WaitAsync();
        try
        {
            return _server ??= await RedisServerProcess.StartServerAsync();
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
        return _connection ??= new RedisConnection(new RedisOptions { Endpoint = server.Endpoint, AllowAdminCommands = true });
    }

    /// <summary>A key prefix no other test uses.</summary>
    public static string NewPrefix() => $"t{Interlocked.Increment(ref _prefixes)}:";

    [OneTimeTearDown]
    public async Task StopServer()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
            _connection = null;
        }

        if (_server is not null)
        {
            await _server.DisposeAsync();
            _server = null;
        }
    }
}
