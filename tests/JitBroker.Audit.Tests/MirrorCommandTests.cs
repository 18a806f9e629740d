using JitBroker.Redis;
using NUnit.Framework;
using StackExchange.Redis;
using LuaScript = JitBroker.Redis.LuaScript;

namespace JitBroker.Audit.Tests;

/// <summary>
/// Pins the exact XADD the mirror sends for a batch (names, argument order and argument types), independent of a
/// Redis server, so reworking how the arguments are built cannot change what reaches the stream.
/// </summary>
public sealed class MirrorCommandTests
{
    [Test]
    public async Task A_batch_is_one_pipelined_XADD_per_record_in_order_with_the_line_bytes_unchanged()
    {
        using var fixture = new AuditFixture();
        var options = fixture.Options();
        var redis = new RecordingRedis();
        var sink = new MirroredAuditSink(new AuditFileSink(options), redis, "p:audit", maxLength: 4321);
        await using (var log = fixture.Log(options, sink))
        {
            await log.AppendManyAsync([AuditFixture.Issued(1), AuditFixture.Issued(2), AuditFixture.Issued(3)]);
        }

        var lines = fixture.ReadLines();
        var sent = redis.Batches.SelectMany(b => b).ToList();
        Assert.That(sent.Count, Is.EqualTo(lines.Length));
        for (var i = 0; i < sent.Count; i++)
        {
            var args = sent[i].Args;
            Assert.That(sent[i].Command, Is.EqualTo("XADD"));
            Assert.That(args, Has.Length.EqualTo(9));
            Assert.That(args[0], Is.TypeOf<RedisKey>().And.EqualTo((RedisKey)"p:audit"));
            Assert.That(args[1..6], Is.EqualTo(new object[] { "MAXLEN", "~", 4321L, "*", "seq" }));
            Assert.That(args[3], Is.TypeOf<long>());
            Assert.That(args[6], Is.TypeOf<long>().And.EqualTo((long)(i + 1)));
            Assert.That(args[7], Is.EqualTo("line"));
            // The line goes as a RedisValue over the writer's batch buffer (no array of its own), bytes unchanged.
            Assert.That(args[8], Is.TypeOf<RedisValue>());
            Assert.That((string?)(RedisValue)args[8], Is.EqualTo(lines[i]));
        }
    }

    /// <summary>Answers every command with OK and keeps what it was sent.</summary>
    private sealed class RecordingRedis : IRedisConnection
    {
        public List<PipelinedCommand[]> Batches { get; } = [];

        public Task<RedisResult[]> ExecuteManyAsync(IReadOnlyList<PipelinedCommand> commands, CancellationToken cancellationToken = default)
        {
            Batches.Add([.. commands]);
            return Task.FromResult(commands.Select(_ => RedisResult.Create((RedisValue)"OK")).ToArray());
        }

        // The stream starts empty: the newest-first read of an empty stream is an empty array.
        public ValueTask<RedisResult> ExecuteAsync(string command, IReadOnlyList<object> args, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(RedisResult.Create(Array.Empty<RedisResult>()));

        public ValueTask<RedisResult> EvalAsync(LuaScript script, IReadOnlyList<RedisKey> keys, IReadOnlyList<RedisValue> args, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public ValueTask<RedisResult> EvalDurableAsync(LuaScript script, IReadOnlyList<RedisKey> keys, IReadOnlyList<RedisValue> args, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public Task<bool> PingAsync(CancellationToken cancellationToken = default) => Task.FromResult(true);
    }
}
