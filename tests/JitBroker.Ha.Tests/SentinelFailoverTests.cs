using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using JitBroker.Audit;
using JitBroker.Cli;
using JitBroker.Core;
using JitBroker.Ha.Tests.Harness;
using JitBroker.Redis;
using JitBroker.Redis.Tests.Harness;
using NUnit.Framework;

namespace JitBroker.Ha.Tests;

/// <summary>
/// Issue 15, item 2: a Sentinel failover under load loses no lease and no revocation. Real processes on loopback:
/// a redis-server primary, its replica, three redis-sentinels (quorum 2) and a broker process that finds the
/// primary through the sentinels (<c>Redis:SentinelEndpoints</c>, the library's service-name support) and waits
/// for the replica's acknowledgement of every durable write (<c>Redis:MinReplicasToAck = 1</c>). Eight agents ask
/// for credentials with 1–3 s TTLs and end a third of their tasks at once; <c>SENTINEL FAILOVER</c> is issued
/// mid-load.
/// </summary>
/// <remarks>
/// <para>
/// What is asserted afterwards, against the NEW primary: every credential the broker handed out (the agents' own
/// record of successful answers) has its lease there; every lease there ends revoked, none before its expiry
/// unless its task was ended, each within <see cref="RevokeBound"/> of its expiry or end; exactly one
/// <c>lease.revoked</c> event per lease in the broker's audit file, whose hash chain verifies.
/// </para>
/// <para>
/// Why this can fail: <c>SENTINEL FAILOVER</c> promotes a replica without pausing the old primary, which keeps
/// accepting (and acknowledging) writes until the sentinels reconfigure it, and throws them away when it resyncs
/// as a replica. The explicit controls show it: without <c>WAIT</c> (ack 0), and with two replicas but one required
/// acknowledgement (the replica that acknowledged is not necessarily the one promoted — it keeps replicating from
/// the old primary after the other was promoted), handed-out leases vanish and marks are lost (a lease revoked
/// twice). Measured in the 2-replica/ack-1 control: 3 of 816 handed-out leases lost, one lease revoked twice. So
/// the rule (docs/redis.md): <c>MinReplicasToAck</c> = the number of replicas.
/// </para>
/// <para>
/// The cost, measured here: after the promotion the new primary has no replica until the sentinels convert the old
/// primary (they notice it on their next 10 s INFO round) and it has resynced — 10–17 s during which every durable
/// write (new leases, revocation marks) answers UNAVAILABLE. Reads and introspection keep working.
/// </para>
/// </remarks>
[TestFixture]
[NonParallelizable]
[CancelAfter(180_000)]
public sealed class SentinelFailoverTests
{
    private const string MasterName = "jitbroker-ha";
    private const int Agents = 8;

    /// <summary>Broker's claim deadline: a revocation cut off by the failover is taken over after it.</summary>
    private static readonly TimeSpan ClaimTimeout = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Lease expiry (or EndTask) to revoked: the time without an acknowledging replica (see the class remarks:
    /// measured 10–17 s; the sentinels' 10 s INFO period plus a resync), plus the claim deadline of revocations it cut
    /// off, plus sweep interval and slack on a busy 2-core box.
    /// </summary>
    private static readonly TimeSpan RevokeBound = TimeSpan.FromSeconds(30);

    /// <summary><c>Revocation:UnauditedGrace</c>: how long an unacknowledged outbox entry waits before its replica writes the event itself.</summary>
    private static readonly TimeSpan UnauditedGrace = TimeSpan.FromSeconds(4);

    [Test]
    public Task A_failover_under_load_loses_no_lease_and_no_revocation(CancellationToken cancellationToken) =>
        RunAsync(replicas: 1, minReplicasToAck: 1, expectNoLoss: true, cancellationToken);

    /// <summary>
    /// Controls: the same run without <c>WAIT</c>, and with two replicas but one required acknowledgement. They
    /// report how many handed-out leases the failover lost (and assert nothing): explicit, because the loss depends on
    /// timing (it needs a write in the window described in the class remarks).
    /// </summary>
    [TestCase(1, 0)]
    [TestCase(2, 1)]
    [Explicit("Control experiment: shows the loss the documented setting prevents; the count depends on timing.")]
    public Task With_fewer_acknowledgements_than_replicas_a_failover_can_lose_handed_out_leases(int replicas, int minReplicasToAck, CancellationToken cancellationToken) =>
        RunAsync(replicas, minReplicasToAck, expectNoLoss: false, cancellationToken);

    private static async Task RunAsync(int replicas, int minReplicasToAck, bool expectNoLoss, CancellationToken cancellationToken)
    {
        await using var primary = await RedisServerProcess.StartServerAsync();
        var replicaServers = new List<RedisServerProcess>();
        for (var i = 0; i < replicas; i++)
        {
            replicaServers.Add(await RedisServerProcess.StartServerAsync("--replicaof", "127.0.0.1", primary.Port.ToString(CultureInfo.InvariantCulture)));
        }

        try
        {
            await RunOnAsync(primary, replicaServers, minReplicasToAck, expectNoLoss, cancellationToken);
        }
        finally
        {
            foreach (var replica in replicaServers)
            {
                await replica.DisposeAsync();
            }
        }
    }

    private static async Task RunOnAsync(RedisServerProcess primary, List<RedisServerProcess> replicaServers, int minReplicasToAck, bool expectNoLoss,
        CancellationToken cancellationToken)
    {
        await using var s1 = await RedisServerProcess.StartSentinelAsync(primary.Port, MasterName, quorum: 2);
        await using var s2 = await RedisServerProcess.StartSentinelAsync(primary.Port, MasterName, quorum: 2);
        await using var s3 = await RedisServerProcess.StartSentinelAsync(primary.Port, MasterName, quorum: 2);
        foreach (var replica in replicaServers)
        {
            await WaitUntilAsync(async () => (await replica.RawReplyAsync("INFO replication")).Contains("master_link_status:up", StringComparison.Ordinal), "replica in sync");
        }

        await WaitUntilAsync(async () => (await s1.RawCommandAsync($"SENTINEL CKQUORUM {MasterName}")).StartsWith("+OK 3 usable", StringComparison.Ordinal), "3 sentinels agree");
        await WaitUntilAsync(async () => await s1.RawCommandAsync($"SENTINEL REPLICAS {MasterName}") == $"*{replicaServers.Count}", "sentinels see the replicas");

        await using var fleet = BrokerFleet.Create();
        var broker = fleet.Start("replica", redisEndpoint: null, new Dictionary<string, string>
        {
            ["Redis:SentinelEndpoints:0"] = s1.Endpoint,
            ["Redis:SentinelEndpoints:1"] = s2.Endpoint,
            ["Redis:SentinelEndpoints:2"] = s3.Endpoint,
            ["Redis:SentinelMasterName"] = MasterName,
            ["Redis:MinReplicasToAck"] = minReplicasToAck.ToString(CultureInfo.InvariantCulture),
            ["Redis:ReplicaAckTimeout"] = "00:00:00.500",
            ["Redis:ConnectTimeout"] = "00:00:02",
            ["Redis:CommandTimeout"] = "00:00:02",
            ["Redis:ReconnectMaxDelay"] = "00:00:00.500",
            ["Broker:MinTtl"] = "00:00:01",
            ["Broker:RevocationClaimTimeout"] = BrokerFleet.Seconds(ClaimTimeout),
            ["Revocation:SweepInterval"] = "00:00:00.100",
            // A mark whose acknowledgement came back short but that survived leaves its event in the outbox; with a
            // short grace the replica writes it itself within seconds (docs/redis.md, "Sentinel failover").
            ["Revocation:ConsistencyInterval"] = "00:00:01",
            ["Revocation:UnauditedGrace"] = BrokerFleet.Seconds(UnauditedGrace),
        });
        await broker.WaitReadyAsync(TimeSpan.FromSeconds(60), cancellationToken);

        var load = new FailoverLoad(fleet, broker);
        using var stopLoad = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var loading = load.RunAsync(Agents, stopLoad.Token);
        await Task.Delay(TimeSpan.FromSeconds(3), cancellationToken);

        var grantedBefore = load.Granted.Count;
        var failoverAt = TimeProvider.System.GetUtcNow();
        Assert.That(await s1.RawCommandAsync($"SENTINEL FAILOVER {MasterName}"), Is.EqualTo("+OK"));
        RedisServerProcess? promoted = null;
        await WaitUntilAsync(async () =>
        {
            var named = await s1.RawReplyAsync($"SENTINEL GET-MASTER-ADDR-BY-NAME {MasterName}");
            promoted = replicaServers.FirstOrDefault(r => named.Contains($"\r\n{r.Port}\r\n", StringComparison.Ordinal));
            return promoted is not null;
        }, "the sentinels name a replica as primary");
        // Keep the load on until the broker has issued on the new primary for a while.
        await WaitUntilAsync(() => Task.FromResult(load.GrantedSince(failoverAt + TimeSpan.FromSeconds(1)) >= 50), "issuing again after the failover", TimeSpan.FromSeconds(60));
        await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
        await stopLoad.CancelAsync();
        await loading;

        // Everything is read from the new primary, directly (not through the sentinels).
        await using var ledger = LeaseLedger.Connect(promoted!.Endpoint);
        Assert.That((await ledger.Redis.ExecuteAsync("ROLE", [], cancellationToken)).AsArray()[0].AsString(), Is.EqualTo("master"), "the promoted replica is the primary");
        var granted = load.Granted.ToDictionary(StringComparer.Ordinal);
        var leasesOfGranted = await ledger.GetManyAsync([.. granted.Keys], cancellationToken: cancellationToken);
        var lost = granted.Keys.Where((_, i) => leasesOfGranted[i] is null).ToList();
        TestContext.Progress.WriteLine($"[failover] replicas {replicaServers.Count}, ack {minReplicasToAck}: granted {granted.Count} ({grantedBefore} before the failover), " +
            $"failures {string.Join(", ", load.Failures.Select(f => $"{f.Key}={f.Value}"))}, ended tasks {load.Ended.Count}; " +
            $"issuance gap {load.LongestGap().TotalMilliseconds:0} ms; handed-out leases missing on the new primary: {lost.Count}");
        if (!expectNoLoss)
        {
            return;
        }

        var settled = await ledger.WaitForCountsAsync(LeaseLedger.NothingLeftToRevoke, TimeSpan.FromSeconds(40), cancellationToken);
        var leases = await ledger.AllLeasesAsync(cancellationToken);
        // Events follow the marks (the sweeper does not wait for the audit writer), an outbox entry at most the grace
        // plus a consistency pass later.
        var audited = Stopwatch.StartNew();
        var revokedEvents = AuditTrail.CountByLease(fleet.AuditPath("replica"));
        while (leases.Any(l => !revokedEvents.ContainsKey(l.LeaseId)) && audited.Elapsed < UnauditedGrace + TimeSpan.FromSeconds(10))
        {
            await Task.Delay(200, cancellationToken);
            revokedEvents = AuditTrail.CountByLease(fleet.AuditPath("replica"));
        }

        var chain = await new AuditVerifier().VerifyFileAsync(fleet.AuditPath("replica"), cancellationToken);
        var lags = new List<double>();
        var early = new List<string>();
        foreach (var lease in leases.Where(l => l.RevokedAt is not null))
        {
            var ended = granted.TryGetValue(lease.LeaseId, out var g) && load.Ended.TryGetValue(g.Task, out var endedAt) ? endedAt : (DateTimeOffset?)null;
            var from = ended is { } e && e < lease.ExpiresAt ? e : lease.ExpiresAt;
            lags.Add((lease.RevokedAt!.Value - from).TotalMilliseconds);
            if (lease.RevokedAt < lease.ExpiresAt && ended is null)
            {
                early.Add(lease.LeaseId);
            }
        }

        lags.Sort();
        TestContext.Progress.WriteLine($"[failover] {leases.Count} leases on the new primary ({leases.Count - granted.Count} never handed out); " +
            $"revocation lag ms p50 {LeaseLedger.Percentile(lags, 50):0} p99 {LeaseLedger.Percentile(lags, 99):0} max {(lags.Count > 0 ? lags[^1] : 0):0}; " +
            $"lease.revoked events {revokedEvents.Values.Sum()} (complete {audited.Elapsed.TotalMilliseconds:0} ms after the ledger settled); audit chain ok {chain.Ok}");

        Assert.Multiple(() =>
        {
            Assert.That(grantedBefore, Is.GreaterThan(20), "the broker was under load before the failover");
            Assert.That(lost, Is.Empty, "every credential handed out has its lease on the new primary");
            Assert.That(settled, Is.True, $"every lease ends revoked: {string.Join(", ", leases.GroupBy(l => l.State).Select(g => $"{g.Key}={g.Count()}"))}");
            Assert.That(leases, Has.All.Matches<Lease>(l => l.State == LeaseState.Revoked));
            Assert.That(early, Is.Empty, "no lease revoked before its expiry unless its task was ended");
            Assert.That(lags.Count > 0 ? lags[^1] : 0, Is.LessThanOrEqualTo(RevokeBound.TotalMilliseconds), $"each revoked within {RevokeBound} of its expiry or EndTask");
            Assert.That(leases.Where(l => revokedEvents.GetValueOrDefault(l.LeaseId) != 1).Select(l => $"{l.LeaseId}: {revokedEvents.GetValueOrDefault(l.LeaseId)}"), Is.Empty,
                "exactly one lease.revoked event per lease");
            Assert.That(revokedEvents.Keys.Except(leases.Select(l => l.LeaseId)), Is.Empty, "no revocation of a lease the ledger does not know");
            Assert.That(chain.Ok, Is.True, $"the audit chain verifies: {chain.FirstFailure}");
        });
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, TimeSpan? within = null)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                if (await condition())
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or TimeoutException)
            {
                // A sentinel or server busy with the failover; ask again.
            }

            Assert.That(clock.Elapsed, Is.LessThan(within ?? TimeSpan.FromSeconds(30)), $"timed out waiting for: {what}");
            await Task.Delay(100);
        }
    }

    /// <summary>
    /// Agents on one broker: each call is a new task with a 1–3 s TTL; a third of the tasks are ended right after
    /// their credential arrives. Records what the agents actually received.
    /// </summary>
    private sealed class FailoverLoad(BrokerFleet fleet, BrokerProcess broker)
    {
        private long _sequence;

        /// <summary>Lease id → (task, when the agent received it).</summary>
        public ConcurrentDictionary<string, (string Task, DateTimeOffset At)> Granted { get; } = new(StringComparer.Ordinal);

        /// <summary>Task id → when EndTask was called for it.</summary>
        public ConcurrentDictionary<string, DateTimeOffset> Ended { get; } = new(StringComparer.Ordinal);

        public ConcurrentDictionary<string, int> Failures { get; } = new(StringComparer.Ordinal);

        public int GrantedSince(DateTimeOffset at) => Granted.Values.Count(g => g.At >= at);

        public TimeSpan LongestGap()
        {
            var times = Granted.Values.Select(g => g.At).Order().ToList();
            return times.Count < 2 ? TimeSpan.Zero : times.Zip(times.Skip(1), (a, b) => b - a).Max();
        }

        public async Task RunAsync(int workers, CancellationToken cancellationToken)
        {
            using var client = new BrokerClient(broker.GrpcUri);
            await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(() => WorkerAsync(client, cancellationToken), CancellationToken.None)));
        }

        private async Task WorkerAsync(BrokerClient client, CancellationToken cancellationToken)
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var n = Interlocked.Increment(ref _sequence);
                var task = $"fo-{n}";
                var ttl = TimeSpan.FromMilliseconds(1000 + Random.Shared.Next(2000));
                var request = BrokerClient.NewRequest(task, "tickets.read", BrokerFleet.TicketsAudience, ["zendesk"], ["tickets/1"], ttl: ttl);
                try
                {
                    var response = await client.RequestCredentialAsync(fleet.Svid(), request, TimeSpan.FromSeconds(10), CancellationToken.None);
                    Granted[response.LeaseId] = (task, TimeProvider.System.GetUtcNow());
                    if (n % 3 == 0)
                    {
                        // Recorded before the call: an EndTask that fails midway may still have revoked the lease.
                        Ended[task] = TimeProvider.System.GetUtcNow();
                        await client.EndTaskAsync(fleet.Svid(), task, TimeSpan.FromSeconds(10), CancellationToken.None);
                    }
                }
                catch (RpcException ex)
                {
                    var key = $"{ex.StatusCode}/{ex.Trailers.GetValue("jitbroker-reason") ?? "-"}";
                    Failures.AddOrUpdate(key, 1, (_, c) => c + 1);
                    await Task.Delay(20, CancellationToken.None); // an agent backs off a little
                }
            }
        }
    }
}
