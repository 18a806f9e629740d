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
            Assert.That(outage!.Reason, Is.EqualTo(Reasons.Audit.Unavailable), "fail closed when the stream cannot be written");

            await server.RestartAsync();
            await WaitUntilAsync(() => redis.PingAsync());
            await log.AppendAsync(AuditFixture.Issued(7));
        }

        var fileLines = fixture.ReadLines();
        var streamLines = await ReadStreamAsync(redis, stream);
        Assert.That(streamLines, Is.EqualTo(fileLines), "the stream holds exactly the file's records, in order, with no gap");
    }

    [Test]
    public async Task A_record_the_stream_took_but_the_file_did_not_is_copied_into_the_file_when_the_log_reopens()
    {
        // The stream is written first, so a replica killed between the two writes leaves the record in the stream
        // only; here the file refuses the write instead, which leaves the same state.
        using var fixture = new AuditFixture();
        await using var server = await RedisServerProcess.StartServerAsync();
        await using var redis = new RedisConnection(new RedisOptions { Endpoint = server.Endpoint });
        var options = fixture.Options();
        var stream = "test:audit:" + Guid.NewGuid().ToString("N");
        var files = new WatchedFileSystem(fixture.LogPath);

        await using (var log = fixture.Log(options, new MirroredAuditSink(new AuditFileSink(options, files.Object), redis, stream)))
        {
            for (var i = 1; i <= 3; i++)
            {
                await log.AppendAsync(AuditFixture.Issued(i));
            }

            files.FailWrites = true;
            Assert.ThrowsAsync<BrokerException>(async () => await log.AppendAsync(AuditFixture.Issued(4)));
            Assert.That(await ReadStreamAsync(redis, stream), Has.Length.EqualTo(fixture.ReadLines().Length + 1), "the stream is one record ahead");
            files.FailWrites = false;
        }

        await using (var log = fixture.Log(options, new MirroredAuditSink(new AuditFileSink(options), redis, stream)))
        {
            await log.StartAsync();
            await log.AppendAsync(AuditFixture.Issued(5));
        }

        Assert.That(fixture.ReadLines(), Is.EqualTo(await ReadStreamAsync(redis, stream)), "the file caught up: both hold the same records");
        var verified = await fixture.VerifyAsync();
        Assert.That(verified.Ok, Is.True, verified.ToString());
        Assert.That(fixture.ReadLines().Count(l => l.Contains("\"type\":\"credential.issued\"", StringComparison.Ordinal)), Is.EqualTo(5),
            "the record the file missed is in it once, before the next one");
    }

    [Test]
    public async Task Stream_records_that_do_not_continue_the_file_stop_the_log_from_opening()
    {
        using var fixture = new AuditFixture();
        await using var server = await RedisServerProcess.StartServerAsync();
        await using var redis = new RedisConnection(new RedisOptions { Endpoint = server.Endpoint });
        var options = fixture.Options();
        var stream = "test:audit:" + Guid.NewGuid().ToString("N");
        await using (var log = fixture.Log(options, new MirroredAuditSink(new AuditFileSink(options), redis, stream)))
        {
            await log.AppendAsync(AuditFixture.Issued(1));
        }

        // Someone with write access to the stream appends a record of a different chain.
        var foreign = AuditRecord.Parse(fixture.ReadLines()[^1]);
        var forged = fixture.ReadLines()[0].Replace("\"seq\":1", $"\"seq\":{foreign.Seq + 1}", StringComparison.Ordinal);
        await redis.ExecuteAsync("XADD", [stream, "*", "seq", foreign.Seq + 1, "line", forged]);

        await using var reopened = fixture.Log(options, new MirroredAuditSink(new AuditFileSink(options), redis, stream));
        var refused = Assert.ThrowsAsync<BrokerException>(async () => await reopened.StartAsync());
        Assert.That(refused!.Reason, Is.EqualTo(Reasons.Audit.TailInvalid), refused.Message);
    }

    [Test]
    public async Task The_chain_index_finds_the_lease_revoked_records_of_a_replicas_stream_since_an_instant()
    {
        using var fixture = new AuditFixture();
        await using var server = await RedisServerProcess.StartServerAsync();
        await using var redis = new RedisConnection(new RedisOptions { Endpoint = server.Endpoint });
        var options = fixture.Options();
        await using (var log = fixture.Log(options, new MirroredAuditSink(new AuditFileSink(options), redis, "jb:audit:replica-a")))
        {
            await log.AppendAsync(AuditFixture.Issued(1));
            for (var i = 0; i < 2500; i++)
            {
                await log.AppendAsync(new AuditEvent { Type = AuditEventTypes.LeaseRevoked, LeaseId = $"lease-{i}", Detail = "Revoked" });
            }
        }

        var index = new RedisAuditChainIndex(redis, "jb:");
        var found = await index.RevokedLeaseIdsAsync("replica-a", DateTimeOffset.UtcNow - TimeSpan.FromMinutes(1));
        Assert.That(found, Has.Count.EqualTo(2500), "every page read");
        Assert.That(found, Does.Contain("lease-0").And.Contain("lease-2499"));
        Assert.That(await index.RevokedLeaseIdsAsync("replica-a", DateTimeOffset.UtcNow + TimeSpan.FromMinutes(1)), Is.Empty, "nothing after the bound");
        Assert.That(await index.RevokedLeaseIdsAsync("replica-b", DateTimeOffset.UtcNow - TimeSpan.FromMinutes(1)), Is.Empty, "another replica's stream");
    }

    [Test]
    public async Task For_its_own_replica_the_chain_index_also_reads_the_file_which_no_failover_can_shorten()
    {
        using var fixture = new AuditFixture();
        await using var server = await RedisServerProcess.StartServerAsync();
        await using var redis = new RedisConnection(new RedisOptions { Endpoint = server.Endpoint });
        var options = fixture.Options();
        await using (var log = fixture.Log(options, new MirroredAuditSink(new AuditFileSink(options), redis, "jb:audit:replica-a")))
        {
            await log.AppendAsync(new AuditEvent { Type = AuditEventTypes.LeaseRevoked, LeaseId = "lease-1", Detail = "Revoked" });
        }

        // A failover to a replica that never received the stream's last appends.
        await redis.ExecuteAsync("DEL", [(StackExchange.Redis.RedisKey)"jb:audit:replica-a"]);
        var since = fixture.Clock.GetUtcNow() - TimeSpan.FromMinutes(1); // the records carry the fixture's clock
        Assert.That(await new RedisAuditChainIndex(redis, "jb:").RevokedLeaseIdsAsync("replica-a", since), Is.Empty, "the stream alone lost it");
        Assert.That(await new RedisAuditChainIndex(redis, "jb:", "replica-a", fixture.LogPath).RevokedLeaseIdsAsync("replica-a", since),
            Is.EquivalentTo(new[] { "lease-1" }), "its own file still has it");
        Assert.That(await new RedisAuditChainIndex(redis, "jb:", "replica-a", fixture.LogPath).RevokedLeaseIdsAsync("replica-a", fixture.Clock.GetUtcNow() + TimeSpan.FromMinutes(1)),
            Is.Empty, "records older than the bound are not reported");
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
