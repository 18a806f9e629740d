using System.Diagnostics;
using JitBroker.Redis.Tests.Harness;
using NUnit.Framework;
using StackExchange.Redis;

namespace JitBroker.Redis.Tests;

/// <summary>Timeouts, restarts and outages: the adapter fails fast (nothing queued while Redis is away), never hands out a wrong reply, and recovers.</summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class RedisResilienceTests
{
    private static RedisOptions Options(string endpoint, int commandTimeoutMs = 400) => new()
    {
        Endpoint = endpoint,
        ConnectTimeout = TimeSpan.FromSeconds(2),
        CommandTimeout = TimeSpan.FromMilliseconds(commandTimeoutMs),
        ReconnectBaseDelay = TimeSpan.FromMilliseconds(50),
        ReconnectMaxDelay = TimeSpan.FromMilliseconds(400),
        AllowAdminCommands = true,
    };

    /// <summary>Retries until the call succeeds or the deadline passes; for waiting on a server coming back.</summary>
    private static async Task<T> EventuallyAsync<T>(Func<Task<T>> call, TimeSpan within)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return await call();
            }
            catch (Exception ex) when (RedisFailures.IsRedisFailure(ex) && clock.Elapsed < within)
            {
                await Task.Delay(50);
            }
        }
    }

    [Test]
    public async Task A_command_past_its_timeout_fails_at_the_timeout_and_later_commands_get_their_own_replies()
    {
        await using var server = await RedisServerProcess.StartServerAsync();
        await using var redis = new RedisConnection(Options(server.Endpoint));
        await redis.ExecuteAsync("SET", ["k", "v"]);
        var clock = Stopwatch.StartNew();

        var slow = redis.ExecuteAsync("DEBUG", ["SLEEP", "1.5"]);
        var queuedBehind = redis.ExecuteAsync("GET", ["k"]);

        var timedOut = Assert.ThrowsAsync<RedisTimeoutException>(async () => await slow);
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(1.4)), "failed at the command timeout, not when the server woke up");
        Assert.That(RedisFailures.CauseOf(timedOut!), Is.EqualTo(RedisFailures.Timeout));
        // The GET was sent behind the sleeping command: it times out too or gets its own reply, never another's.
        try
        {
            Assert.That((await queuedBehind).AsString(), Is.EqualTo("v"));
        }
        catch (Exception ex) when (RedisFailures.IsRedisFailure(ex))
        {
            Assert.That(RedisFailures.CauseOf(ex), Is.EqualTo(RedisFailures.Timeout).Or.EqualTo(RedisFailures.Unreachable));
        }

        var value = await EventuallyAsync(() => redis.ExecuteAsync("GET", ["k"]).AsTask(), TimeSpan.FromSeconds(10));
        Assert.That(value.AsString(), Is.EqualTo("v"));
        Assert.That((await redis.ExecuteAsync("ECHO", ["in step"])).AsString(), Is.EqualTo("in step"));
    }

    [Test]
    public async Task A_caller_that_stopped_waiting_still_leaves_the_server_suspect_when_its_command_times_out()
    {
        await using var server = await RedisServerProcess.StartServerAsync();
        await using var redis = new RedisConnection(Options(server.Endpoint, commandTimeoutMs: 2000));
        await redis.ExecuteAsync("SET", ["k", "v"]);
        var clock = Stopwatch.StartNew();

        using (var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100)))
        {
            Assert.That(async () => await redis.ExecuteAsync("DEBUG", ["SLEEP", "6"], cancel.Token), Throws.InstanceOf<OperationCanceledException>());
        }

        // Nothing else was sent: only the abandoned command's own timeout (at 2-3 s) can make the next call fail fast.
        await Task.Delay(TimeSpan.FromSeconds(3.5) - clock.Elapsed);
        var failedFast = Assert.ThrowsAsync<RedisTimeoutException>(async () => await redis.ExecuteAsync("GET", ["k"]));
        Assert.That(failedFast!.Message, Does.Contain("failing fast"));
    }

    [Test]
    public async Task After_a_server_restart_the_client_reconnects_and_aof_kept_the_data()
    {
        await using var server = await RedisServerProcess.StartServerAsync("--appendonly", "yes", "--appendfsync", "always");
        await using var redis = new RedisConnection(Options(server.Endpoint));
        await redis.ExecuteAsync("SET", ["survivor", "yes"]);
        var before = redis.CurrentEndpoint;

        await server.KillAsync();
        Assert.That(async () => await redis.ExecuteAsync("GET", ["survivor"]), Throws.InstanceOf<RedisConnectionException>());
        await server.RestartAsync();

        var value = await EventuallyAsync(() => redis.ExecuteAsync("GET", ["survivor"]).AsTask(), TimeSpan.FromSeconds(15));
        Assert.That(value.AsString(), Is.EqualTo("yes"));
        Assert.That(redis.CurrentEndpoint, Is.EqualTo(before));
    }

    [Test]
    public async Task An_unreachable_server_fails_promptly_and_later_calls_fail_at_once_without_queueing()
    {
        var port = RedisServerProcess.FreePort(); // nothing listens here
        await using var redis = new RedisConnection(Options($"127.0.0.1:{port}"));
        var clock = Stopwatch.StartNew();

        Assert.That(async () => await redis.ExecuteAsync("PING", []), Throws.InstanceOf<RedisConnectionException>());
        var firstFailure = clock.Elapsed;
        clock.Restart();
        var during = Assert.ThrowsAsync<RedisConnectionException>(() => redis.ExecuteAsync("SET", ["k", "v"]).AsTask());
        var secondFailure = clock.Elapsed;

        Assert.That(firstFailure, Is.LessThan(TimeSpan.FromSeconds(2.5)), "bounded by the connect timeout");
        Assert.That(secondFailure, Is.LessThan(TimeSpan.FromMilliseconds(100)), "no hang and no backlog while Redis is away");
        Assert.That(RedisFailures.CauseOf(during!), Is.EqualTo(RedisFailures.Unreachable));
        Assert.That(await redis.PingAsync(), Is.False);

        await using var server = await RedisServerProcess.StartServerAsync(port);
        var pong = await EventuallyAsync(() => redis.ExecuteAsync("PING", []).AsTask(), TimeSpan.FromSeconds(10));
        Assert.That(pong.AsString(), Is.EqualTo("PONG"));
        Assert.That((await redis.ExecuteAsync("EXISTS", ["k"])).AsInt64(), Is.Zero, "the SET refused during the outage was not queued and replayed");
    }

    [Test]
    public async Task Commands_pending_when_the_server_dies_fail_instead_of_hanging()
    {
        await using var server = await RedisServerProcess.StartServerAsync();
        await using var redis = new RedisConnection(Options(server.Endpoint, commandTimeoutMs: 30_000));
        await redis.PingAsync();

        var stuck = redis.ExecuteAsync("DEBUG", ["SLEEP", "5"]).AsTask();
        await Task.Delay(100);
        await server.KillAsync();

        Assert.That(async () => await stuck.WaitAsync(TimeSpan.FromSeconds(3)), Throws.InstanceOf<RedisConnectionException>());
    }
}
