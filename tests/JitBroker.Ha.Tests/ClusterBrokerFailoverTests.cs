using System.Globalization;
using JitBroker.Core;
using JitBroker.Ha.Tests.Harness;
using JitBroker.Leases;
using JitBroker.Leases.Redis;
using JitBroker.Redis;
using JitBroker.Redis.Tests.Harness;
using NUnit.Framework;

namespace JitBroker.Ha.Tests;

/// <summary>
/// Issue 15 item 4 with broker processes: two replicas on a real 3+3 Redis Cluster (16 buckets, the documented ACL
/// user), under RequestCredential load plus 3,000 leases written into the ledger that expire over 12 s; while they
/// expire a primary is failed over (<c>CLUSTER FAILOVER</c> on its replica) or SIGKILLed. Afterwards every lease is
/// revoked (none orphaned), none before its expiry, each within the documented bound, every granted lease is in
/// the ledger, and no lease has two <c>lease.revoked</c> events across both replicas' audit files. Leases revoked
/// with no event at all are reported, not asserted: a revocation recorded on a dying shard whose reply was lost, or
/// whose audit append failed, has none until issue 15 item 5 makes the event part of the mark-revoked step.
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(180_000)]
public sealed class ClusterBrokerFailoverTests
{
    private const int Written = 3000;
    private static readonly TimeSpan ClaimTimeout = TimeSpan.FromSeconds(3);

    /// <summary>docs/redis.md, "Redis Cluster": 2 × cluster-node-timeout + claim timeout + 3 s.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromMilliseconds(2 * RedisClusterProcess.NodeTimeoutMs) + ClaimTimeout + TimeSpan.FromSeconds(3);

    [TestCase(false, TestName = "Broker replicas on a cluster revoke every lease once across a CLUSTER FAILOVER")]
    [TestCase(true, TestName = "Broker replicas on a cluster revoke every lease once when a primary is SIGKILLed")]
    public async Task Broker_replicas_ride_out_a_primary_failover(bool kill, CancellationToken cancellationToken)
    {
        await using var cluster = await RedisClusterProcess.StartAsync();
        await using var fleet = BrokerFleet.Create();
        var settings = new Dictionary<string, string>
        {
            ["Redis:Endpoint"] = "",
            ["Redis:Buckets"] = "16",
            // The documented users (docs/redis.md): the broker's, and the append-only one for the audit mirror.
            ["Redis:User"] = DocumentedAcl.BrokerUser,
            ["Redis:PasswordFile"] = Secret(fleet, "broker.pw", DocumentedAcl.BrokerPassword),
            ["Redis:AuditUser"] = DocumentedAcl.AuditUser,
            ["Redis:AuditPasswordFile"] = Secret(fleet, "audit.pw", DocumentedAcl.AuditPassword),
            ["Redis:ConnectTimeout"] = "00:00:02",
            ["Redis:CommandTimeout"] = "00:00:02",
            ["Redis:ReconnectMaxDelay"] = "00:00:00.500",
            ["Broker:MinTtl"] = "00:00:01",
            ["Broker:RevocationClaimTimeout"] = BrokerFleet.Seconds(ClaimTimeout),
            ["Revocation:SweepInterval"] = "00:00:00.100",
        };
        for (var i = 0; i < cluster.Endpoints.Count; i++)
        {
            settings[$"Redis:ClusterEndpoints:{i}"] = cluster.Endpoints[i];
        }

        var a = fleet.Start("replica-a", "", settings);
        var b = fleet.Start("replica-b", "", settings);
        await Task.WhenAll(a.WaitReadyAsync(TimeSpan.FromSeconds(60), cancellationToken), b.WaitReadyAsync(TimeSpan.FromSeconds(60), cancellationToken));

        await using var redis = new RedisConnection(new RedisOptions
        {
            ClusterEndpoints = [.. cluster.Endpoints], User = DocumentedAcl.BrokerUser, Password = DocumentedAcl.BrokerPassword, Buckets = 16,
            CommandTimeout = TimeSpan.FromSeconds(5), ReconnectMaxDelay = TimeSpan.FromMilliseconds(200), ClientName = "ha-test",
        });
        var store = new RedisLeaseStore(redis, new RedisKeyLayout(LeaseLedger.KeyPrefix, 16), InMemoryLeaseStore.DefaultRevokedRetention);
        var time = TimeProvider.System;
        var firstExpiry = time.GetUtcNow() + TimeSpan.FromSeconds(5);
        var written = new List<string>();
        foreach (var chunk in Enumerable.Range(0, Written).Chunk(500))
        {
            written.AddRange(await Task.WhenAll(chunk.Select(async i =>
            {
                var lease = LeaseLedger.NewLease(i, time.GetUtcNow(), firstExpiry + TimeSpan.FromSeconds(12) * ((double)i / Written));
                lease = lease with { LeaseId = LeaseIds.New(LeaseIds.PlacementFor(lease.AgentId, lease.TaskId)) };
                lease = lease with { BackendHandle = lease.LeaseId };
                await store.PutAsync(lease, cancellationToken);
                return lease.LeaseId;
            })));
        }

        using var load = new CredentialLoad(fleet, [a, b], () => TimeSpan.FromMilliseconds(1000 + Random.Shared.Next(1000)));
        using var stopLoad = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var loading = load.RunAsync(workers: 4, stopLoad.Token);

        await Task.Delay(firstExpiry + TimeSpan.FromSeconds(3) - time.GetUtcNow(), cancellationToken);
        var victim = (await cluster.PrimariesAsync())[0];
        var replica = await cluster.ReplicaOfAsync(victim);
        var faultAt = time.GetUtcNow();
        IReadOnlyCollection<RedisServerProcess> gone = [];
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
            Assert.That(time.GetUtcNow() - faultAt, Is.LessThan(TimeSpan.FromSeconds(30)), "the replica was never promoted");
            await Task.Delay(100, cancellationToken);
        }

        var promoted = time.GetUtcNow() - faultAt;
        await Task.Delay(TimeSpan.FromSeconds(3), cancellationToken);
        await stopLoad.CancelAsync();
        await loading;

        // Everything has expired within ~2 s of now (12 s spread, load TTL ≤ 2 s); allow the bound after that.
        var deadline = TimeSpan.FromSeconds(5) + Bound;
        var settled = System.Diagnostics.Stopwatch.StartNew();
        IReadOnlyDictionary<LeaseState, long> counts = new Dictionary<LeaseState, long>();
        while (settled.Elapsed < deadline)
        {
            try
            {
                counts = await store.CountByStateAsync(cancellationToken);
                if (LeaseLedger.NothingLeftToRevoke(counts))
                {
                    break;
                }
            }
            catch (BrokerException)
            {
                // the test's own connection may still be catching up with the new topology
            }

            await Task.Delay(100, cancellationToken);
        }

        var leases = new List<Lease>();
        string? token = null;
        do
        {
            var page = await store.ListAsync(new LeaseQuery { PageSize = 1000, PageToken = token }, cancellationToken);
            leases.AddRange(page.Leases);
            token = page.NextPageToken;
        }
        while (token is not null);

        var auditA = AuditTrail.CountByLease(fleet.AuditPath("replica-a"));
        var auditB = AuditTrail.CountByLease(fleet.AuditPath("replica-b"));
        int Events(string id) => auditA.GetValueOrDefault(id) + auditB.GetValueOrDefault(id);
        var lags = leases.Where(l => l.RevokedAt is not null).Select(l => (l.RevokedAt!.Value - l.ExpiresAt).TotalMilliseconds).Order().ToList();
        var unaudited = leases.Where(l => Events(l.LeaseId) == 0).ToList();
        TestContext.Progress.WriteLine(
            $"[cluster {(kill ? "sigkill" : "failover")}] promoted after {promoted.TotalMilliseconds:0} ms; granted {load.Granted.Count} " +
            $"(failures {string.Join(", ", load.Failures.Select(f => $"{f.Key}={f.Value}"))}), written {Written}, {leases.Count} in the ledger; " +
            $"revoked events A={auditA.Values.Sum()} B={auditB.Values.Sum()}, without event {unaudited.Count}; " +
            $"lag ms p50 {LeaseLedger.Percentile(lags, 50):0} p99 {LeaseLedger.Percentile(lags, 99):0} max {(lags.Count > 0 ? lags[^1] : double.NaN):0}");

        var handedOut = written.Concat(load.Granted.Keys).ToHashSet(StringComparer.Ordinal);
        var refusals = await cluster.RefusalsAsync(gone);
        Assert.Multiple(() =>
        {
            Assert.That(refusals, Is.Empty, "nothing either replica did was refused by the documented ACL");
            Assert.That(LeaseLedger.NothingLeftToRevoke(counts), Is.True, "nothing left to revoke: " + string.Join(", ", counts));
            Assert.That(load.Granted.Count, Is.GreaterThan(50), "the replicas were under load");
            Assert.That(written.Concat(load.Granted.Keys).Except(leases.Select(l => l.LeaseId)), Is.Empty, "every written or granted lease is in the ledger");
            Assert.That(leases.Where(l => l.State != LeaseState.Revoked).Select(l => $"{l.LeaseId} {l.State}"), Is.Empty, "none orphaned");
            // A lease whose issuance was refused (its audit record could not be written while the shard failed over) is
            // revoked at once by the commit step, by design; every lease written or handed out must live to its expiry.
            Assert.That(leases.Where(l => handedOut.Contains(l.LeaseId) && l.RevokedAt < l.ExpiresAt).Select(l => l.LeaseId), Is.Empty,
                "none written or handed out revoked before its expiry");
            Assert.That(lags.Count > 0 ? lags[^1] : 0, Is.LessThanOrEqualTo(Bound.TotalMilliseconds), "each within the documented bound");
            Assert.That(leases.Where(l => Events(l.LeaseId) > 1).Select(l => l.LeaseId), Is.Empty, "no lease revoked twice (two lease.revoked events)");
        });
    }

    private static string Secret(BrokerFleet fleet, string name, string value)
    {
        var path = Path.Combine(fleet.Root, name);
        File.WriteAllText(path, value + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }
}
