using System.Text;
using JitBroker.Redis.Tests.Harness;
using NUnit.Framework;
using StackExchange.Redis;
using LuaScript = JitBroker.Redis.LuaScript;

namespace JitBroker.Redis.Tests;

/// <summary>The adapter over StackExchange.Redis against a real redis-server: replies, errors, scripts, databases.</summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class RedisConnectionTests
{
    private RedisServerProcess _server = null!;
    private RedisConnection _redis = null!;

    [OneTimeSetUp]
    public async Task StartServer()
    {
        _server = await RedisServerProcess.StartServerAsync();
        _redis = new RedisConnection(new RedisOptions { Endpoint = _server.Endpoint, AllowAdminCommands = true });
    }

    [OneTimeTearDown]
    public async Task StopServer()
    {
        await _redis.DisposeAsync();
        await _server.DisposeAsync();
    }

    [Test]
    public async Task Replies_of_every_type_come_back()
    {
        await _redis.ExecuteAsync("DEL", ["list", "counter"]);

        Assert.That((await _redis.ExecuteAsync("SET", ["greeting", "hello"])).AsString(), Is.EqualTo("OK"));
        Assert.That((await _redis.ExecuteAsync("GET", ["greeting"])).AsString(), Is.EqualTo("hello"));
        Assert.That((await _redis.ExecuteAsync("GET", ["never-set"])).IsNull, Is.True);
        Assert.That((await _redis.ExecuteAsync("INCRBY", ["counter", 41])).AsInt64(), Is.EqualTo(41));
        await _redis.ExecuteAsync("RPUSH", ["list", "a", "b", "c"]);
        var list = (await _redis.ExecuteAsync("LRANGE", ["list", 0, -1])).AsArray();
        Assert.That(list.Select(v => v.AsString()), Is.EqualTo(new[] { "a", "b", "c" }));
        Assert.That(await _redis.PingAsync(), Is.True);
    }

    [Test]
    public async Task An_error_reply_is_a_server_exception_and_the_connection_stays_in_step()
    {
        await _redis.ExecuteAsync("SET", ["text", "not a number"]);

        var error = Assert.ThrowsAsync<RedisServerException>(() => _redis.ExecuteAsync("INCR", ["text"]).AsTask());
        Assert.That(error!.Message, Does.StartWith("ERR value is not an integer or out of range"));
        Assert.That(RedisFailures.CauseOf(error), Is.EqualTo(RedisFailures.ErrorReply));
        Assert.ThrowsAsync<RedisServerException>(() => _redis.ExecuteAsync("NOSUCHCOMMAND", []).AsTask());
        Assert.That((await _redis.ExecuteAsync("ECHO", ["still in step"])).AsString(), Is.EqualTo("still in step"));
    }

    [Test]
    public async Task A_pipeline_runs_every_command_in_order_and_returns_each_reply()
    {
        await _redis.ExecuteAsync("DEL", ["piped"]);

        var replies = await _redis.ExecuteManyAsync([.. Enumerable.Range(1, 200).Select(i => new PipelinedCommand("RPUSH", ["piped", i]))]);

        Assert.That(replies.Select(r => r.AsInt64()), Is.EqualTo(Enumerable.Range(1, 200).Select(i => (long)i)), "each reply is its own command's, in order");
        var stored = (await _redis.ExecuteAsync("LRANGE", ["piped", 0, -1])).AsArray().Select(v => v.AsInt64());
        Assert.That(stored, Is.EqualTo(Enumerable.Range(1, 200).Select(i => (long)i)));
        Assert.That(await _redis.ExecuteManyAsync([]), Is.Empty);
    }

    [Test]
    public async Task An_error_reply_in_a_pipeline_fails_the_call_and_the_other_commands_still_ran()
    {
        await _redis.ExecuteAsync("DEL", ["piped-a", "piped-b"]);
        await _redis.ExecuteAsync("SET", ["piped-text", "not a number"]);

        Assert.ThrowsAsync<RedisServerException>(() => _redis.ExecuteManyAsync(
        [
            new PipelinedCommand("SET", ["piped-a", "1"]), new PipelinedCommand("INCR", ["piped-text"]), new PipelinedCommand("SET", ["piped-b", "2"]),
        ]));

        // Not a transaction: the commands around the failed one ran, and the connection is still in step.
        Assert.That((await _redis.ExecuteAsync("MGET", ["piped-a", "piped-b"])).AsArray().Select(v => v.AsString()), Is.EqualTo(new[] { "1", "2" }));
        Assert.That((await _redis.ExecuteAsync("ECHO", ["still in step"])).AsString(), Is.EqualTo("still in step"));
        Assert.Throws<ArgumentException>(() => _redis.ExecuteManyAsync([new PipelinedCommand("", [])]).GetAwaiter().GetResult());
    }

    [Test]
    public async Task A_pipeline_of_one_command_answers_and_fails_as_a_longer_one_does()
    {
        await _redis.ExecuteAsync("SET", ["piped-one", "not a number"]);

        // A pipeline of one: its own reply, its failure as an exception, a cancelled token honoured, the connection in step.
        var replies = await _redis.ExecuteManyAsync([new PipelinedCommand("ECHO", ["alone"])]);
        Assert.That(replies.Select(r => r.AsString()), Is.EqualTo(new[] { "alone" }));
        Assert.ThrowsAsync<RedisServerException>(() => _redis.ExecuteManyAsync([new PipelinedCommand("INCR", ["piped-one"])]));
        Assert.CatchAsync<OperationCanceledException>(() => _redis.ExecuteManyAsync([new PipelinedCommand("ECHO", ["late"])], new CancellationToken(canceled: true)));
        Assert.That((await _redis.ExecuteAsync("ECHO", ["still in step"])).AsString(), Is.EqualTo("still in step"));
    }

    [Test]
    public async Task Commands_issued_together_by_concurrent_callers_reach_redis_in_few_reads()
    {
        // 32 callers, each a chain of 50 commands: the shape of concurrent requests. Each command written and flushed
        // on its own costs Redis about one read per command; written together, many commands share a read.
        await _redis.ExecuteAsync("DEL", ["coalesced"]);
        var readsBefore = await TotalReadsProcessedAsync();

        await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < 50; i++)
            {
                await _redis.ExecuteAsync("INCR", ["coalesced"]);
            }
        })));

        var reads = await TotalReadsProcessedAsync() - readsBefore;
        TestContext.Out.WriteLine($"{reads} reads for {32 * 50} commands");
        Assert.That((await _redis.ExecuteAsync("GET", ["coalesced"])).AsInt64(), Is.EqualTo(32 * 50), "every command ran once");
        Assert.That(reads, Is.LessThan(32 * 50 / 3), $"Redis read {reads} times for {32 * 50} commands");
    }

    [Test]
    public async Task Commands_written_together_keep_each_callers_order_reply_and_error()
    {
        await _redis.ExecuteAsync("DEL", ["ordered-0", "ordered-1", "ordered-2", "ordered-3"]);
        await _redis.ExecuteAsync("SET", ["ordered-text", "not a number"]);

        // Issued without waiting, so they are queued together: one failing command among them fails only its caller.
        var pushes = Enumerable.Range(0, 400).Select(i => _redis.ExecuteAsync("RPUSH", ["ordered-" + (i % 4), i]).AsTask()).ToList();
        var failing = _redis.ExecuteAsync("INCR", ["ordered-text"]).AsTask();
        var script = _redis.EvalAsync(new LuaScript("return redis.call('LLEN', KEYS[1])"), ["ordered-0"], []).AsTask();

        var replies = await Task.WhenAll(pushes);
        Assert.ThrowsAsync<RedisServerException>(() => failing);
        Assert.That(replies.Select((r, i) => r.AsInt64()), Is.EqualTo(Enumerable.Range(0, 400).Select(i => (long)(i / 4 + 1))), "each caller got its own reply");
        Assert.That((long)await script, Is.EqualTo(100));
        for (var list = 0; list < 4; list++)
        {
            var stored = (await _redis.ExecuteAsync("LRANGE", ["ordered-" + list, 0, -1])).AsArray().Select(v => v.AsInt64());
            Assert.That(stored, Is.EqualTo(Enumerable.Range(0, 400).Where(i => i % 4 == list).Select(i => (long)i)), "written in the order issued");
        }
    }

    private async Task<long> TotalReadsProcessedAsync()
    {
        var info = (await _redis.ExecuteAsync("INFO", ["stats"])).ToString();
        var line = info.Split('\n').Single(l => l.StartsWith("total_reads_processed:", StringComparison.Ordinal));
        return long.Parse(line["total_reads_processed:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    [Test]
    public async Task A_caller_that_stops_waiting_leaves_the_commands_after_it_their_own_replies()
    {
        // Commands are pooled: the slow command's reply, which comes after its caller gave up, must reach nobody else —
        // not the callers queued behind the sleep, nor those after it whose commands may reuse its slot.
        using var impatient = new CancellationTokenSource(TimeSpan.FromMilliseconds(30));
        var slow = _redis.ExecuteAsync("DEBUG", ["SLEEP", "0.3"], impatient.Token).AsTask();
        for (var round = 0; round < 3; round++)
        {
            var echoes = Enumerable.Range(0, 200).Select(async i => (string?)await _redis.ExecuteAsync("ECHO", [$"{round}:{i}"])).ToList();
            Assert.That(await Task.WhenAll(echoes), Is.EqualTo(Enumerable.Range(0, 200).Select(i => $"{round}:{i}")), $"round {round}");
        }

        Assert.That(async () => await slow, Throws.InstanceOf<OperationCanceledException>());
    }

    [Test]
    public async Task A_reply_is_read_once()
    {
        // A second read of a pooled reply is refused, never answered: letting the command go twice could hand it to another
        // caller while still in use. The first await resumes where the reply completes (ConfigureAwait(false) on a reply
        // still on the wire), so the second read comes while the command is still held for the library's reply — the
        // window in which only the command's own bookkeeping, not its version, can refuse it.
        await _redis.ConnectAsync(); // connected, a command's reply is the pooled one (before, it waits in an async step)
#pragma warning disable CA2012 // read twice on purpose
        var reply = _redis.ExecuteAsync("DEBUG", ["SLEEP", "0.05"]);
        Assert.That(reply.IsCompleted, Is.False, "the reply must still be on the wire for this test to mean anything");
        Assert.That((string?)await reply.ConfigureAwait(false), Is.EqualTo("OK"));
        Assert.That(() => reply.Result, Throws.InstanceOf<InvalidOperationException>());
        Assert.That(async () => await reply, Throws.InstanceOf<InvalidOperationException>());
#pragma warning restore CA2012
        var after = await Task.WhenAll(Enumerable.Range(0, 50).Select(async i => (string?)await _redis.ExecuteAsync("ECHO", [$"after:{i}"])));
        Assert.That(after, Is.EqualTo(Enumerable.Range(0, 50).Select(i => $"after:{i}")), "the pool is intact");
    }

    [Test]
    public async Task Big_values_round_trip()
    {
        var value = new byte[16 * 1024 * 1024];
        new Random(7).NextBytes(value);

        await _redis.ExecuteAsync("SET", ["big", value]);
        var back = (await _redis.ExecuteAsync("GET", ["big"])).AsBytes();

        Assert.That(back, Is.EqualTo(value));
        Assert.That((await _redis.ExecuteAsync("STRLEN", ["big"])).AsInt64(), Is.EqualTo(value.Length));
        await _redis.ExecuteAsync("DEL", ["big"]);
    }

    [Test]
    public async Task Keys_and_values_are_binary_safe()
    {
        var every = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        byte[] key = [.. "bin:"u8, 13, 10, 0, 36, 42];

        await _redis.ExecuteAsync("SET", [key, every]);

        Assert.That((await _redis.ExecuteAsync("GET", [key])).AsBytes(), Is.EqualTo(every));
        Assert.That((await _redis.ExecuteAsync("GET", ["bin:"])).IsNull, Is.True);
    }

    [Test]
    public async Task Unicode_text_round_trips_as_utf8()
    {
        const string text = "grüße 👋 \r\n $3 *2";
        await _redis.ExecuteAsync("SET", ["unicode", text]);
        var raw = (await _redis.ExecuteAsync("GET", ["unicode"])).AsBytes();
        Assert.That(raw, Is.EqualTo(Encoding.UTF8.GetBytes(text)));
    }

    [Test]
    public async Task Evalsha_falls_back_to_eval_after_the_script_cache_is_flushed()
    {
        var script = new LuaScript("return redis.call('INCRBY', KEYS[1], ARGV[1])");
        await _redis.ExecuteAsync("DEL", ["script-counter"]);

        Assert.That((await _redis.EvalAsync(script, ["script-counter"], [2])).AsInt64(), Is.EqualTo(2));
        Assert.That((await _redis.ExecuteAsync("SCRIPT", ["EXISTS", script.Sha1])).AsArray()[0].AsInt64(), Is.EqualTo(1), "EVAL cached it");

        await _redis.ExecuteAsync("SCRIPT", ["FLUSH"]);
        Assert.That((await _redis.ExecuteAsync("SCRIPT", ["EXISTS", script.Sha1])).AsArray()[0].AsInt64(), Is.Zero);

        Assert.That((await _redis.EvalAsync(script, ["script-counter"], [3])).AsInt64(), Is.EqualTo(5));
        Assert.That((await _redis.ExecuteAsync("SCRIPT", ["EXISTS", script.Sha1])).AsArray()[0].AsInt64(), Is.EqualTo(1));
        Assert.That(script.Sha1, Is.EqualTo((await _redis.ExecuteAsync("SCRIPT", ["LOAD", script.Source])).AsString()), "our SHA-1 is Redis' script id");
    }

    [Test]
    public async Task A_script_error_is_a_server_exception()
    {
        var broken = new LuaScript("return redis.call('NOPE')");
        var error = Assert.ThrowsAsync<RedisServerException>(() => _redis.EvalAsync(broken, [], []).AsTask());
        Assert.That(error!.Message, Does.Contain("Unknown Redis command"));
        Assert.That(await _redis.PingAsync(), Is.True);
    }

    [Test]
    public async Task Select_keeps_the_database_apart()
    {
        await using var db3 = new RedisConnection(new RedisOptions { Endpoint = _server.Endpoint, Database = 3 });

        await db3.ExecuteAsync("SET", ["only-in-3", "x"]);

        Assert.That((await db3.ExecuteAsync("GET", ["only-in-3"])).AsString(), Is.EqualTo("x"));
        Assert.That((await _redis.ExecuteAsync("GET", ["only-in-3"])).IsNull, Is.True);
        var clients = (await _redis.ExecuteAsync("CLIENT", ["LIST"])).AsString()!;
        Assert.That(clients, Does.Contain("name=jitbroker").And.Contain("db=3"));
    }
}
