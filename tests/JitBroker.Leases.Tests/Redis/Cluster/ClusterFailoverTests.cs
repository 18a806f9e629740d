using System.Collections.Concurrent;
using System.Diagnostics;
using JitBroker.Core;
using JitBroker.Leases.Redis;
using JitBroker.Redis;
using JitBroker.Redis.Tests.Harness;
using JitBroker.Testing;
using NUnit.Framework;

namespace JitBroker.Leases.Tests.Redis.Cluster;

/// <summary>
/// A primary of a real 3+3 cluster is failed over while leases are being created and expiring: once by
/// <c>CLUSTER FAILOVER</c> on its replica, once by SIGKILL (cluster-node-timeout 2 s). Two in-process sweepers (each
/// its own connection and store, as two broker replicas) claim and revoke. Afterwards: every lease the ledger holds
/// is revoked (none orphaned), none before its expiry, each within the documented bound of its expiry, every
/// acknowledged write is still there, and no lease changed to revoked twice (the mark-revoked transitions, which is
/// what writes the <c>lease.revoked</c> audit event). Every failure a caller saw was UNAVAILABLE with
/// <c>lease_store.unavailable</c>.
/// </summary>
/// <remarks>The sweepers are in-process loops of ClaimDue → (revoke) → MarkRevoked, not broker processes.</remarks>
[TestFixture]
[NonParallelizable]
[CancelAfter(240_000)]
public sealed class ClusterFailoverTests
{
    private static readonly TimeSpan ClaimTimeout = TimeSpan.FromSeconds(3);

    /// <summary>docs/redis.md: revocation lag bound on a cluster = 2 × cluster-node-timeout + claim timeout + 3 s.</summary>
    private static readonly TimeSpan LagBound = TimeSpan.FromMilliseconds(2 * RedisClusterProcess.NodeTimeoutMs) + ClaimTimeout + TimeSpan.FromSeconds(3);

    public enum Fault
    {
        Failover,
        Kill,
        Reshard,
        SlowMigration,
    }

    [TestCase(Fault.Failover, TestName = "No lease is orphaned or revoked twice across a CLUSTER FAILOVER under load")]
    [TestCase(Fault.Kill, TestName = "No lease is orphaned or revoked twice when a primary is SIGKILLed under load")]
    [TestCase(Fault.Reshard, TestName = "No lease is orphaned or revoked twice while buckets' slots are resharded under load (MOVED and ASK)")]
    [TestCase(Fault.SlowMigration, TestName = "No lease is orphaned, half-written or revoked twice while a busy bucket's slot migrates key by key under load (ASK and TRYAGAIN)")]
    public async Task Fault_under_load(Fault fault)
    {
        var kill = fault == Fault.Kill;
        await using var cluster = await RedisClusterProcess.StartAsync();
        var layout = new RedisKeyLayout("jitbroker:", SharedCluster.Buckets);
        RedisOptions Options(string name) => new()
        {
            ClusterEndpoints = [.. cluster.Endpoints], User = DocumentedAcl.BrokerUser, Password = DocumentedAcl.BrokerPassword,
            Buckets = SharedCluster.Buckets, ConnectTimeout = TimeSpan.FromSeconds(2), CommandTimeout = TimeSpan.FromSeconds(2),
            ReconnectMaxDelay = TimeSpan.FromSeconds(1), ClientName = name,
        };
        await using var writerConnection = new RedisConnection(Options("writer"));
        await using var sweeperA = new RedisConnection(Options("sweeper-a"));
        await using var sweeperB = new RedisConnection(Options("sweeper-b"));
        var writer = new RedisLeaseStore(writerConnection, layout, InMemoryLeaseStore.DefaultRevokedRetention);
        await writerConnection.ConnectAsync();

        var acknowledged = new ConcurrentDictionary<string, Lease>();
        var unknownOutcome = new ConcurrentDictionary<string, Lease>();
        var transitions = new ConcurrentDictionary<string, int>();
        var revokedAt = new ConcurrentDictionary<string, DateTimeOffset>();
        var causes = new ConcurrentDictionary<string, int>();
        var strayFailures = new ConcurrentQueue<Exception>();
        void Failed(Exception ex)
        {
            if (ex is BrokerException { Failure: BrokerFailure.Unavailable, Reason: Reasons.LeaseStoreUnavailable } b)
            {
                causes.AddOrUpdate((string)b.Data[RedisFailures.CauseKey]!, 1, (_, n) => n + 1);
            }
            else if (ex is not BrokerException { Reason: Reasons.ParentLeaseNotActive })
            {
                strayFailures.Enqueue(ex);
            }
        }

        using var stop = new CancellationTokenSource();
        using var stopSweeping = new CancellationTokenSource();
        var sweepers = new[] { sweeperA, sweeperB }.Select(c => Task.Run(() => SweepAsync(
            new RedisLeaseStore(c, layout, InMemoryLeaseStore.DefaultRevokedRetention), transitions, revokedAt, Failed, stopSweeping.Token))).ToList();

        // Load: ~100 leases/s from 4 writers, TTL 1-3 s, every fifth one delegated from a recent lease (same bucket).
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            var random = new Random(w);
            var recent = new List<Lease>();
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var now = TimeProvider.System.GetUtcNow();
                var agent = $"spiffe://td/agents/w{w}-{random.Next(20)}";
                var task = $"task-{random.Next(50)}";
                var parent = i % 5 == 4 && recent.Count > 0 ? recent[random.Next(recent.Count)] : null;
                var lease = NewLease(parent is null ? LeaseIds.New(LeaseIds.PlacementFor(agent, task)) : LeaseIds.New(LeaseIds.PlacementOf(parent.LeaseId)),
                    agent, task, parent?.LeaseId, now, now + TimeSpan.FromMilliseconds(1000 + random.Next(2000)));
                try
                {
                    await writer.PutAsync(lease);
                    acknowledged[lease.LeaseId] = lease;
                    recent.Add(lease);
                    if (recent.Count > 20)
                    {
                        recent.RemoveAt(0);
                    }
                }
                catch (Exception ex)
                {
                    if (ex is BrokerException { Failure: BrokerFailure.Unavailable })
                    {
                        unknownOutcome[lease.LeaseId] = lease; // ran entirely or not at all
                    }

                    Failed(ex);
                }

                await Task.Delay(40);
            }
        })).ToList();

        await Task.Delay(TimeSpan.FromSeconds(3));
        var primaries = await cluster.PrimariesAsync();
        var victim = primaries[1];
        var victimSlots = (await SlotsOfAsync(cluster, victim, layout)).ToHashSet();
        var replica = await cluster.ReplicaOfAsync(victim);
        var clock = Stopwatch.StartNew();
        IReadOnlyCollection<RedisServerProcess> gone = [];
        var movedBuckets = 0;
        if (fault == Fault.Reshard)
        {
            // 2,500 slots from one primary to another: at least two whole buckets' ranges (1,024 slots each) move, key by key.
            var target = primaries[2];
            var from = (await cluster.CliAsync(victim, ["CLUSTER", "MYID"])).Trim();
            var to = (await cluster.CliAsync(target, ["CLUSTER", "MYID"])).Trim();
            var before = await OwnersAsync(cluster, target, layout);
            var resharded = await cluster.CliAsync(null, ["--cluster", "reshard", victim.Endpoint, "--cluster-from", from, "--cluster-to", to,
                "--cluster-slots", "2500", "--cluster-yes"], TimeSpan.FromSeconds(120));
            Assert.That(resharded, Does.Not.Contain("ERR").And.Not.Contain("[ERR]"), resharded.Length > 2000 ? resharded[^2000..] : resharded);
            movedBuckets = (await OwnersAsync(cluster, target, layout)) - before;
        }
        else if (fault == Fault.SlowMigration)
        {
            // One bucket's slot, a few keys at a time, with pauses: scripts on that bucket meet a half-moved slot.
            var target = primaries[2];
            var slot = (await SlotsOfAsync(cluster, victim, layout)).First();
            var migration = await SlotMigration.BeginAsync(cluster, slot, target);
            Assert.That(migration.Source, Is.EqualTo(victim));
            var migrated = 0;
            for (int moved; (moved = await migration.MoveSomeAsync(3)) > 0; migrated += moved)
            {
                await Task.Delay(100);
            }

            await migration.FinishAsync();
            movedBuckets = (await SlotsOfAsync(cluster, target, layout)).Contains(slot) ? 1 : 0;
            TestContext.Progress.WriteLine($"[cluster SlowMigration] slot {slot}: {migrated} keys migrated in {clock.ElapsedMilliseconds} ms");
        }
        else
        {
            if (kill)
            {
                await victim.KillAsync();
                gone = [victim];
            }
            else
            {
                Assert.That(await cluster.CliAsync(replica, ["CLUSTER", "FAILOVER"]), Does.Contain("OK"));
            }

            while (!(await cluster.PrimariesAsync(gone)).Contains(replica))
            {
                Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(30)), "the replica was never promoted");
                await Task.Delay(100);
            }
        }

        var promotedAfter = clock.Elapsed;
        await Task.Delay(TimeSpan.FromSeconds(4)); // load continues on the new topology
        await stop.CancelAsync();
        await Task.WhenAll(writers);
        var lastExpiry = acknowledged.Values.Concat(unknownOutcome.Values).Max(l => l.ExpiresAt);
        // Let everything fall due and the sweepers revoke it, then read the ledger back. The wait ends once the ledger
        // holds no lease left to revoke, or at the documented bound after the last expiry. Ending early hides no second
        // revocation: a mark the fault lost leaves its lease unrevoked in the ledger until a sweeper claims and marks it
        // again, and with every lease revoked a mark changes nothing (MarkOneRevokedAsync answers false).
        var quiet = lastExpiry + LagBound;
        while (TimeProvider.System.GetUtcNow() < quiet && (TimeProvider.System.GetUtcNow() < lastExpiry || !await NothingLeftToRevokeAsync(writer)))
        {
            await Task.Delay(250);
        }

        await stopSweeping.CancelAsync();
        await Task.WhenAll(sweepers);

        var stored = await ReadLedgerAsync(writer);

        var redirects = "";
        if (fault is Fault.Reshard or Fault.SlowMigration)
        {
            long moved = 0, ask = 0;
            foreach (var node in await cluster.PrimariesAsync())
            {
                foreach (var line in (await cluster.CliAsync(node, ["INFO", "errorstats"])).Split('\n'))
                {
                    long Count() => long.Parse(line.Split("count=")[1].Trim(), System.Globalization.CultureInfo.InvariantCulture);
                    if (line.StartsWith("errorstat_MOVED:", StringComparison.Ordinal))
                    {
                        moved += Count();
                    }
                    else if (line.StartsWith("errorstat_ASK:", StringComparison.Ordinal) || line.StartsWith("errorstat_TRYAGAIN:", StringComparison.Ordinal))
                    {
                        ask += Count();
                    }
                }
            }

            redirects = $"MOVED {moved}, ASK/TRYAGAIN {ask} answered; ";
            Assert.That(moved + ask, Is.GreaterThan(0), "the client was redirected (else the resharding proved nothing)");
        }

        // Half-written leases would be hashes the indexes do not list: every lease hash on every primary must be listed.
        var hashes = new List<string>();
        foreach (var node in await cluster.PrimariesAsync(gone))
        {
            hashes.AddRange((await cluster.CliAsync(node, ["--scan", "--pattern", "jitbroker:{*}:lease:*"])).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }

        var unlisted = hashes.Select(k => k[(k.IndexOf(":lease:{", StringComparison.Ordinal) + 8)..^1]).Where(id => !stored.ContainsKey(id)).ToList();
        var orphans = stored.Values.Where(l => l.State != LeaseState.Revoked).ToList();
        var lost = acknowledged.Keys.Where(id => !stored.ContainsKey(id)).ToList();
        var twice = transitions.Where(t => t.Value > 1).Select(t => t.Key).ToList();
        var lags = stored.Values.Where(l => revokedAt.ContainsKey(l.LeaseId)).Select(l => revokedAt[l.LeaseId] - l.ExpiresAt).OrderBy(t => t).ToList();
        // Reported, not asserted: while one shard fails, sweeping pauses for every bucket (docs/redis.md, "Sweeping").
        var healthy = stored.Values
            .Where(l => !victimSlots.Contains(RedisKeyLayout.SlotOf(layout.BucketPrefix(layout.BucketOf(l.LeaseId)) + "due")) && revokedAt.ContainsKey(l.LeaseId))
            .Select(l => revokedAt[l.LeaseId] - l.ExpiresAt).OrderBy(t => t).ToList();
        var early = stored.Values.Where(l => l.ParentLeaseId is null && revokedAt.TryGetValue(l.LeaseId, out var at) && at < l.ExpiresAt).ToList();
        TestContext.Progress.WriteLine(
            $"[cluster {fault}] {(fault is Fault.Reshard or Fault.SlowMigration ? $"{movedBuckets} buckets moved, migration took" : "promoted after")} {promotedAfter.TotalMilliseconds:0} ms; {redirects}{acknowledged.Count} acknowledged puts, " +
            $"{unknownOutcome.Count} refused (of which stored: {unknownOutcome.Keys.Count(stored.ContainsKey)}), {stored.Count} in the ledger, " +
            $"{transitions.Count} revoked by the sweepers; lag p50 {Pct(lags, 0.5)} ms, p99 {Pct(lags, 0.99)} ms, max {Pct(lags, 1)} ms " +
            $"(buckets on the other shards: max {Pct(healthy, 1)} ms); " +
            $"causes seen: {string.Join(", ", causes.Select(c => $"{c.Key}={c.Value}"))}");

        Assert.Multiple(() =>
        {
            Assert.That(strayFailures, Is.Empty, "every failure is UNAVAILABLE / lease_store.unavailable");
            Assert.That(causes.Keys, Is.SubsetOf(new[] { RedisFailures.Unreachable, RedisFailures.Timeout, RedisFailures.ClusterDown, RedisFailures.Redirect, RedisFailures.ReadOnly }),
                "every Redis cause named by a specific code (no generic redis.error)");
            Assert.That(orphans.Select(l => $"{l.LeaseId} {l.State} expired {l.ExpiresAt:O}"), Is.Empty, "no lease orphaned");
            Assert.That(lost, Is.Empty, "no acknowledged lease lost");
            Assert.That(hashes, Has.Count.EqualTo(stored.Count), "every lease hash found by the key scan");
            Assert.That(unlisted, Is.Empty, "no lease hash outside the indexes (half-written)");
            Assert.That(twice, Is.Empty, "no lease revoked twice");
            Assert.That(early.Select(l => l.LeaseId), Is.Empty, "no root lease revoked before its expiry");
            Assert.That(stored.Values.All(l => transitions.ContainsKey(l.LeaseId)), Is.True, "every revoked lease was revoked by a sweeper");
            Assert.That(lags.Count == 0 ? TimeSpan.Zero : lags[^1], Is.LessThanOrEqualTo(LagBound), "each within the documented bound of its expiry");
            Assert.That(acknowledged.Count, Is.GreaterThan(300), "enough load");
            Assert.That(movedBuckets, fault switch { Fault.Reshard => Is.GreaterThanOrEqualTo(2), Fault.SlowMigration => Is.EqualTo(1), _ => Is.Zero }, "buckets moved");
        });
    }

    /// <summary>Whether every lease in the ledger is revoked; a read refused as unavailable is only "not yet" (the final read is strict).</summary>
    private static async Task<bool> NothingLeftToRevokeAsync(RedisLeaseStore store)
    {
        try
        {
            return (await ReadLedgerAsync(store)).Values.All(l => l.State == LeaseState.Revoked);
        }
        catch (BrokerException ex) when (ex.Failure == BrokerFailure.Unavailable)
        {
            return false;
        }
    }

    /// <summary>Every lease in the ledger, by id.</summary>
    private static async Task<Dictionary<string, Lease>> ReadLedgerAsync(RedisLeaseStore store)
    {
        var stored = new Dictionary<string, Lease>();
        foreach (var lease in await store.ListAllAsync())
        {
            stored[lease.LeaseId] = lease;
        }

        return stored;
    }

    /// <summary>How many buckets <paramref name="node"/> serves (by <c>CLUSTER NODES</c> slot ranges).</summary>
    private static async Task<int> OwnersAsync(RedisClusterProcess cluster, RedisServerProcess node, RedisKeyLayout layout) =>
        (await SlotsOfAsync(cluster, node, layout)).Count;

    /// <summary>The bucket slots <paramref name="node"/> serves (by <c>CLUSTER NODES</c> slot ranges).</summary>
    private static async Task<List<int>> SlotsOfAsync(RedisClusterProcess cluster, RedisServerProcess node, RedisKeyLayout layout)
    {
        var ranges = await SlotMigration.OwnedRangesAsync(cluster, node);
        return [.. Enumerable.Range(0, layout.Buckets).Select(b => RedisKeyLayout.SlotOf(layout.BucketPrefix(b) + "due"))
            .Where(slot => ranges.Any(r => slot >= r.Low && slot <= r.High))];
    }

    private static async Task SweepAsync(RedisLeaseStore store, ConcurrentDictionary<string, int> transitions,
        ConcurrentDictionary<string, DateTimeOffset> revokedAt, Action<Exception> failed, CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            IReadOnlyList<Lease> batch;
            try
            {
                batch = await store.ClaimDueAsync(TimeProvider.System.GetUtcNow(), 100, ClaimTimeout);
            }
            catch (Exception ex)
            {
                failed(ex);
                batch = [];
            }

            foreach (var lease in batch)
            {
                try
                {
                    var now = TimeProvider.System.GetUtcNow();
                    if (await store.MarkOneRevokedAsync(lease.LeaseId, now))
                    {
                        transitions.AddOrUpdate(lease.LeaseId, 1, (_, n) => n + 1);
                        revokedAt[lease.LeaseId] = now;
                    }
                }
                catch (Exception ex)
                {
                    failed(ex); // the claim lapses and the lease is claimed again
                }
            }

            if (batch.Count == 0)
            {
                try
                {
                    await Task.Delay(100, stopping);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private static string Pct(List<TimeSpan> sorted, double p) =>
        sorted.Count == 0 ? "-" : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1 < 0 ? 0 : (int)Math.Ceiling(p * sorted.Count) - 1)].TotalMilliseconds.ToString("0", System.Globalization.CultureInfo.InvariantCulture);

    private static Lease NewLease(string id, string agent, string task, string? parent, DateTimeOffset issued, DateTimeOffset expires) => new()
    {
        LeaseId = id, AgentId = agent, TaskId = task, ParentLeaseId = parent, IssuerKind = "jwt", BackendHandle = id,
        Scope = new GrantedScope("https://tools.example", "read", ["t"], ["r"]), IssuedAt = issued, ExpiresAt = expires,
        CredentialFingerprint = "sha256:" + new string('b', 64),
    };
}
