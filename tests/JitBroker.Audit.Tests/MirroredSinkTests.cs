using JitBroker.Core;
using JitBroker.Redis;
using JitBroker.Redis.Tests.Harness;
using NUnit.Framework;

namespace JitBroker.Audit.Tests;

/// <summary>The Redis Stream mirror against a real redis-server on loopback.</summary>
[NonParallelizable]
public sealed class MirroredSinkTests
{
    [Test]
    public async Task Every_record_reaches_the_stream_in_order_and_unchanged_and_an_outage_fails_closed_then_backfills()
    {
        using var fixture = new AuditFixture();
        await using var server = await RedisServerProcess.StartServerAsync();
        await using var redis = new RedisConnection(new RedisOptions { Endpoint = server.Endpoint, CommandTimeout = TimeSpan.FromSeconds(1), ConnectTimeout = TimeSpan.FromSeconds(1) });
        var options = fixture.Options();
        var stream = "test:audit:" + Guid.NewGuid().ToString("N");

        await using (var log = fixture.Log(options, new MirroredAuditSink(new AuditFileSink(options), redis, stream)))
        {
            for (var i = 1; i <= 5; i++)
            {
                await log.AppendAsync(AuditFixture.Issued(i));
            }

            await server.KillAsync();
            var outage = Assert.ThrowsAsync<BrokerException>(async () => await log.AppendAsync(AuditFixture.Issued(6)));
            Assert.That(outage!.Reason, Is.EqualTo(AuditReasons.Unavailable), "fail closed when the stream cannot be written");

            await server.RestartAsync();
            await WaitUntilAsync(() => redis.PingAsync());
            await log.AppendAsync(AuditFixture.Issued(7));
        }

        var fileLines = fixture.ReadLines();
        var streamLines = await ReadStreamAsync(redis, stream);
        Assert.That(streamLines, Is.EqualTo(fileLines), "the stream holds exactly the file's records, in order, with no gap");
    }

    private static async Task<string[]> ReadStreamAsync(IRedisConnection redis, string stream)
    {
        var entries = (await redis.ExecuteAsync("XRANGE", [stream, "-", "+"])).AsArray();
        return [.. entries.Select(e => e.AsArray()[1].AsArray()).Select(f => f[3].AsString()!)];
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!await condition() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }
    }
}
