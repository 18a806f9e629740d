using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using JitBroker.Cli;
using JitBroker.Core;
using JitBroker.Ha.Tests.Harness;
using JitBroker.Redis.Tests.Harness;
using NUnit.Framework;

namespace JitBroker.Ha.Tests;

/// <summary>
/// Issue 15, "Bad input and faults": a broker process on a real redis-server that misbehaves while agents ask for
/// credentials. For each fault: every request answers UNAVAILABLE with a stable reason code (the
/// <c>jitbroker-reason</c> trailer) and no credential; the broker's log names the Redis cause; no lease is
/// half-written (checked through the store's read paths); and a lease that fell due during the fault is revoked
/// by itself once the fault clears. <c>SCRIPT FLUSH</c> (NOSCRIPT) is not a failure at all: scripts are re-sent.
/// </summary>
/// <remarks>
/// The first Redis write of RequestCredential is the replay cache's <c>SET … NX PX … GET</c>, so faults that refuse
/// every write (OOM, READONLY, a paused server) surface as <c>replay_cache.unavailable</c>, before anything about the
/// lease is written. An ACL that refuses only scripts lets that SET through and stops the request at the lease write, the
/// first script: <c>lease_store.unavailable</c>, nothing written. Missing replica acknowledgements hit only durable
/// writes, so that fault also surfaces at the lease write itself, with the (unacknowledged) lease left for the sweeper.
/// </remarks>
[TestFixture]
[NonParallelizable]
[CancelAfter(120_000)]
public sealed class RedisFaultTests
{
    private static readonly TimeSpan RedisTimeout = TimeSpan.FromSeconds(1);
    /// <summary>The command timeout plus scheduling slack on a busy 2-core box (a hang would take the whole fault).</summary>
    private static readonly TimeSpan Prompt = RedisTimeout + TimeSpan.FromSeconds(2);

    /// <summary>After the fault clears: claim deadline (2 s, for claims sent into a paused server) + sweep + slack.</summary>
    private static readonly TimeSpan ResumeBound = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long <see cref="Fault.Slow"/> pauses Redis: longer than the five requests take (each at most one command
    /// timeout) plus the wait for the early lease to fall due. A paused Redis refuses even <c>CLIENT UNPAUSE</c>
    /// (7.0, pause mode ALL), so the pause is bounded and "clearing" waits for its end.
    /// </summary>
    private static readonly TimeSpan PauseFor = TimeSpan.FromSeconds(8);

    public enum Fault
    {
        /// <summary><c>maxmemory 1</c> with <c>noeviction</c>: every write answers <c>-OOM</c>.</summary>
        OutOfMemory,

        /// <summary><c>REPLICAOF</c> a port nobody listens on: the server keeps its data but answers writes <c>-READONLY</c> (a demoted primary).</summary>
        ReadOnly,

        /// <summary>An ACL change that refuses scripts to the broker's user: <c>-NOPERM</c>.</summary>
        NoPermission,

        /// <summary><c>CLIENT PAUSE … ALL</c>: Redis answers nothing beyond the command timeout.</summary>
        Slow,

        /// <summary><c>SCRIPT FLUSH</c>: the next <c>EVALSHA</c> gets <c>-NOSCRIPT</c> and is re-sent as <c>EVAL</c>; no failure.</summary>
        ScriptCacheFlushed,

        /// <summary>The only replica stopped (SIGSTOP) with <c>Redis:MinReplicasToAck = 1</c>: <c>WAIT</c> comes back short.</summary>
        ReplicaMissing,
    }

    [TestCase(Fault.OutOfMemory, "replay_cache.unavailable", "redis.oom")]
    [TestCase(Fault.ReadOnly, "replay_cache.unavailable", "redis.readonly")]
    [TestCase(Fault.NoPermission, "lease_store.unavailable", "redis.noperm")]
    [TestCase(Fault.Slow, "replay_cache.unavailable", "redis.timeout")]
    [TestCase(Fault.ScriptCacheFlushed, null, null)]
    [TestCase(Fault.ReplicaMissing, "lease_store.unavailable", "redis.noreplicas")]
    public async Task Each_fault_answers_unavailable_with_a_stable_reason_writes_nothing_half_and_revocation_resumes(
        Fault fault, string? reason, string? cause, CancellationToken cancellationToken)
    {
        await using var redis = await RedisServerProcess.StartServerAsync();
        await using var replica = fault == Fault.ReplicaMissing
            ? await RedisServerProcess.StartServerAsync("--replicaof", "127.0.0.1", redis.Port.ToString(CultureInfo.InvariantCulture))
            : null;
        await using var fleet = BrokerFleet.Create();
        var settings = new Dictionary<string, string>
        {
            ["Broker:MinTtl"] = "00:00:01",
            ["Revocation:SweepInterval"] = "00:00:00.100",
            ["Broker:RevocationClaimTimeout"] = "00:00:02",
            ["Redis:ConnectTimeout"] = BrokerFleet.Seconds(RedisTimeout),
            ["Redis:CommandTimeout"] = BrokerFleet.Seconds(RedisTimeout),
            ["Redis:ReconnectMaxDelay"] = "00:00:01",
        };
        if (replica is not null)
        {
            await WaitUntilAsync(async () => (await replica.RawReplyAsync("INFO replication")).Contains("master_link_status:up", StringComparison.Ordinal), "replica in sync");
            settings["Redis:MinReplicasToAck"] = "1";
            settings["Redis:ReplicaAckTimeout"] = "00:00:00.800"; // below the 1 s command timeout, generous for a busy box
        }

        var broker = fleet.Start("replica", redis.Endpoint, settings);
        await broker.WaitReadyAsync(TimeSpan.FromSeconds(60), cancellationToken);
        await using var ledger = LeaseLedger.Connect(redis.Endpoint);
        using var client = new BrokerClient(broker.GrpcUri);

        var before = await RequestWhenBackAsync(client, fleet, "before-fault", TimeSpan.FromSeconds(2), cancellationToken);
        var beforeLease = await ledger.Store.GetAsync(before.LeaseId, cancellationToken);
        Assert.That(beforeLease, Is.Not.Null);

        var answers = new List<(string Task, StatusCode? Status, string? Reason, string? Token, TimeSpan Took)>();
        var replicaPid = replica is null ? null : await PidAsync(replica);
        var injectedAt = Stopwatch.StartNew();
        await InjectAsync(fault, redis, replicaPid);
        try
        {
            for (var i = 0; i < 5; i++)
            {
                var task = $"during-fault-{i}";
                var watch = Stopwatch.StartNew();
                try
                {
                    // Short TTLs: a lease left behind by an unacknowledged write must expire and be revoked in the test.
                    var issued = await client.RequestCredentialAsync(fleet.Svid(), Request(task, TimeSpan.FromSeconds(3)), TimeSpan.FromSeconds(30), cancellationToken);
                    answers.Add((task, null, null, issued.Credential?.Token, watch.Elapsed));
                }
                catch (RpcException ex)
                {
                    answers.Add((task, ex.StatusCode, ex.Trailers.GetValue("jitbroker-reason"), null, watch.Elapsed));
                }
            }

            // Let the lease issued before the fault fall due while the fault lasts.
            var due = beforeLease!.ExpiresAt + TimeSpan.FromMilliseconds(500) - TimeProvider.System.GetUtcNow();
            if (due > TimeSpan.Zero)
            {
                await Task.Delay(due, cancellationToken);
            }
        }
        finally
        {
            await ClearAsync(fault, redis, replicaPid, PauseFor - injectedAt.Elapsed);
        }

        var cleared = Stopwatch.StartNew();
        var revoked = await WaitRevokedAsync(ledger, before.LeaseId, ResumeBound + TimeSpan.FromSeconds(5), cancellationToken);
        var resumedAfter = cleared.Elapsed;
        var after = await RequestWhenBackAsync(client, fleet, "after-fault", TimeSpan.FromSeconds(30), cancellationToken);
        var failedTasks = answers.Where(a => a.Status is not null).Select(a => a.Task).ToList();
        var leftBehind = new List<Lease>();
        foreach (var task in failedTasks)
        {
            leftBehind.AddRange(await ledger.Store.ListByTaskAsync(BrokerFleet.SupportBot, task, cancellationToken));
        }

        // Whatever a failed request left in the ledger must be revoked by the sweeper on its own (at its expiry).
        var leftoverIds = leftBehind.Select(l => l.LeaseId).ToHashSet(StringComparer.Ordinal);
        var leftoversRevoked = leftBehind.Count == 0 || await WaitForAsync(async () =>
            (await ledger.GetManyAsync([.. leftoverIds], cancellationToken: cancellationToken)).All(l => l?.State == LeaseState.Revoked), TimeSpan.FromSeconds(15));
        var halfWritten = await ledger.HalfWrittenAsync(cancellationToken);
        var issuedInAudit = AuditTrail.CountByLease(fleet.AuditPath("replica"), "credential.issued");
        var log = File.ReadAllText(broker.LogPath);
        var noScriptErrors = (await ledger.InfoAsync("errorstats", cancellationToken)).GetValueOrDefault("errorstat_NOSCRIPT") ?? "count=0";
        TestContext.Progress.WriteLine(
            $"[fault {fault}] answers: {string.Join(", ", answers.Select(a => $"{a.Status?.ToString() ?? "OK"}/{a.Reason ?? "-"} in {a.Took.TotalMilliseconds:0} ms"))}; " +
            $"leases left by failed requests {leftBehind.Count}; lease due during the fault revoked {resumedAfter.TotalMilliseconds:0} ms after it cleared");

        Assert.Multiple(() =>
        {
            if (reason is null)
            {
                Assert.That(answers.Select(a => a.Status), Has.All.Null, "no failure: NOSCRIPT is answered by re-sending the script");
                Assert.That(answers.Select(a => a.Token), Has.All.Not.Null);
                Assert.That(noScriptErrors, Is.Not.EqualTo("count=0"), "the broker did get NOSCRIPT (INFO errorstats), and recovered from it");
            }
            else
            {
                Assert.That(answers.Select(a => a.Status), Has.All.EqualTo(StatusCode.Unavailable), "every call during the fault: UNAVAILABLE");
                Assert.That(answers.Select(a => a.Reason), Has.All.EqualTo(reason), "with a stable reason code");
                Assert.That(answers.Select(a => a.Token), Has.All.Null, "no credential handed out");
                Assert.That(answers.Select(a => a.Took), Has.All.LessThan(Prompt), $"each answer within the Redis timeout + slack ({Prompt})");
                Assert.That(log, Does.Contain($"answered UNAVAILABLE: {reason} (cause {cause})"), "the broker's log names the Redis cause");
                Assert.That(issuedInAudit.Keys, Is.EquivalentTo(new[] { before.LeaseId, after.LeaseId }), "the audit shows only the credentials actually issued");
            }

            if (fault != Fault.ReplicaMissing)
            {
                Assert.That(leftBehind.Select(l => l.LeaseId), Is.Empty, "a request that failed recorded no lease");
            }

            Assert.That(leftoversRevoked, Is.True, "leases of unacknowledged writes are revoked by the sweeper");
            Assert.That(halfWritten, Is.Empty, "no lease is half-written");
            Assert.That(revoked?.State, Is.EqualTo(LeaseState.Revoked), "the lease that fell due during the fault is revoked after it");
            Assert.That(revoked?.RevokedAt >= revoked?.ExpiresAt, Is.True, "not revoked before its expiry");
            Assert.That(resumedAfter, Is.LessThan(ResumeBound), "revocation resumes by itself once the fault clears");
        });
    }

    private static async Task InjectAsync(Fault fault, RedisServerProcess redis, string? replicaPid)
    {
        switch (fault)
        {
            case Fault.OutOfMemory:
                await ExpectOkAsync(redis, "CONFIG SET maxmemory-policy noeviction");
                await ExpectOkAsync(redis, "CONFIG SET maxmemory 1");
                break;
            case Fault.ReadOnly:
                await ExpectOkAsync(redis, $"REPLICAOF 127.0.0.1 {RedisServerProcess.FreePort()}");
                break;
            case Fault.NoPermission:
                await ExpectOkAsync(redis, "ACL SETUSER default -eval -evalsha");
                break;
            case Fault.Slow:
                await ExpectOkAsync(redis, $"CLIENT PAUSE {PauseFor.TotalMilliseconds:0} ALL");
                break;
            case Fault.ScriptCacheFlushed:
                await ExpectOkAsync(redis, "SCRIPT FLUSH");
                break;
            case Fault.ReplicaMissing:
                await SignalAsync("STOP", replicaPid!);
                break;
        }
    }

    private static async Task ClearAsync(Fault fault, RedisServerProcess redis, string? replicaPid, TimeSpan pauseLeft)
    {
        switch (fault)
        {
            case Fault.OutOfMemory:
                await ExpectOkAsync(redis, "CONFIG SET maxmemory 0");
                break;
            case Fault.ReadOnly:
                await ExpectOkAsync(redis, "REPLICAOF NO ONE");
                break;
            case Fault.NoPermission:
                await ExpectOkAsync(redis, "ACL SETUSER default +@all");
                break;
            case Fault.Slow:
                Assert.That(pauseLeft, Is.GreaterThan(TimeSpan.Zero), "the requests outlasted the pause; lengthen PauseFor");
                await Task.Delay(pauseLeft);
                break;
            case Fault.ReplicaMissing:
                await SignalAsync("CONT", replicaPid!);
                break;
        }
    }

    private static async Task ExpectOkAsync(RedisServerProcess redis, string command) =>
        Assert.That(await redis.RawCommandAsync(command), Is.EqualTo("+OK"), command);

    private static Protocol.V1.RequestCredentialRequest Request(string task, TimeSpan ttl) =>
        BrokerClient.NewRequest(task, "tickets.read", BrokerFleet.TicketsAudience, ["zendesk"], ["tickets/1"], ttl: ttl);

    /// <summary>
    /// A request outside the fault: the broker may still be backing off for a moment after it (or, with a replica,
    /// a busy box may delay an acknowledgement past its timeout): retry for a few seconds.
    /// </summary>
    private static async Task<Protocol.V1.RequestCredentialResponse> RequestWhenBackAsync(BrokerClient client, BrokerFleet fleet, string task, TimeSpan ttl,
        CancellationToken cancellationToken)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return await client.RequestCredentialAsync(fleet.Svid(), Request(task, ttl), TimeSpan.FromSeconds(10), cancellationToken);
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable && waited.Elapsed < TimeSpan.FromSeconds(10))
            {
                await Task.Delay(100, cancellationToken);
            }
        }
    }

    private static async Task<Lease?> WaitRevokedAsync(LeaseLedger ledger, string leaseId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        Lease? lease = null;
        await WaitForAsync(async () =>
        {
            lease = await ledger.Store.GetAsync(leaseId, cancellationToken);
            return lease?.State == LeaseState.Revoked;
        }, timeout);
        return lease;
    }

    /// <summary>Polls <paramref name="condition"/> every 20 ms (Redis failures of the test's own connection count as "not yet"); false on timeout.</summary>
    private static async Task<bool> WaitForAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var waited = Stopwatch.StartNew();
        while (waited.Elapsed < timeout)
        {
            try
            {
                if (await condition())
                {
                    return true;
                }
            }
            catch (BrokerException)
            {
                // The test's own connection is recovering from the fault too.
            }

            await Task.Delay(20);
        }

        return false;
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        Assert.That(await WaitForAsync(condition, TimeSpan.FromSeconds(20)), Is.True, $"timed out waiting for: {what}");
    }

    private static async Task<string> PidAsync(RedisServerProcess server) =>
        (await server.RawReplyAsync("INFO server")).Split("\r\n").Single(l => l.StartsWith("process_id:", StringComparison.Ordinal))["process_id:".Length..];

    /// <summary>SIGSTOP freezes a redis-server this test started, SIGCONT resumes it.</summary>
    private static async Task SignalAsync(string signal, string pid)
    {
        using var kill = Process.Start("kill", ["-" + signal, pid]) ?? throw new InvalidOperationException("kill did not start");
        await kill.WaitForExitAsync();
        Assert.That(kill.ExitCode, Is.Zero, $"kill -{signal} {pid}");
    }
}
