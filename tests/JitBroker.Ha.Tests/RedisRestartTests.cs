using System.Diagnostics;
using JitBroker.Core;
using JitBroker.Ha.Tests.Harness;
using JitBroker.Redis.Tests.Harness;
using NUnit.Framework;

namespace JitBroker.Ha.Tests;

/// <summary>
/// Issue 5, proof 2: redis-server (AOF on, <c>appendfsync always</c>) is SIGKILLed and restarted while it holds
/// 10,000 active leases. All of them are still there afterwards (counted with <see cref="ILeaseQueries.CountByStateAsync"/>),
/// and the broker process that was running all along — it reconnects by itself — revokes every one on time.
/// </summary>
/// <remarks>
/// The 10,000 leases are written straight into the store (pipelined <c>PutAsync</c>, the same script the broker
/// runs) rather than through RequestCredential, so the test spends its time on the restart, not on minting. They
/// expire evenly over ten seconds that start after the restart (1,000 a second, about half of what one broker
/// revokes per second on a busy 2-core box — see docs/benchmarks.md). "On time": revoked no earlier than its
/// expiry and at most <see cref="OnTime"/> after it (sweep interval 100 ms plus queueing on a shared box).
/// </remarks>
[TestFixture]
[NonParallelizable]
[CancelAfter(120_000)]
public sealed class RedisRestartTests
{
    private const int Leases = 10_000;
    private static readonly TimeSpan Spread = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan OnTime = TimeSpan.FromSeconds(3);

    [Test]
    public async Task Ten_thousand_active_leases_survive_a_redis_crash_and_restart_and_are_revoked_on_time(CancellationToken cancellationToken)
    {
        await using var redis = await RedisServerProcess.StartServerAsync("--appendonly", "yes", "--appendfsync", "always");
        await using var fleet = BrokerFleet.Create();
        var broker = fleet.Start("replica", redis.Endpoint, new Dictionary<string, string>
        {
            ["Revocation:SweepInterval"] = "00:00:00.100",
            ["Broker:RevocationClaimTimeout"] = "00:00:02",
            ["Redis:ConnectTimeout"] = "00:00:01",
            ["Redis:CommandTimeout"] = "00:00:02",
            ["Redis:ReconnectMaxDelay"] = "00:00:00.500",
        });
        await broker.WaitReadyAsync(TimeSpan.FromSeconds(60), cancellationToken);
        await using var ledger = LeaseLedger.Connect(redis.Endpoint);

        var time = TimeProvider.System;
        var now = time.GetUtcNow();
        // Writing with appendfsync always runs at ~2k leases/s on a busy 2-core box: leave room before the first expiry.
        var firstExpiry = now + TimeSpan.FromSeconds(15);
        var written = Stopwatch.StartNew();
        var ids = await ledger.PutManyAsync(Leases, i => LeaseLedger.NewLease(i, now, firstExpiry + Spread * ((double)i / Leases)),
            cancellationToken: cancellationToken);
        var writeTime = written.Elapsed;
        Assert.That((await ledger.Store.CountByStateAsync(cancellationToken))[LeaseState.Active], Is.EqualTo(Leases));

        await redis.KillAsync();
        Assert.That(await broker.IsReadyAsync(cancellationToken), Is.False, "the broker notices Redis is gone");
        await redis.RestartAsync();
        var restartedAt = time.GetUtcNow();
        Assert.That(restartedAt, Is.LessThan(firstExpiry - TimeSpan.FromSeconds(1)),
            $"precondition: the restart must finish before the leases expire (writing took {writeTime})");

        var afterRestart = await CountAsync(ledger, cancellationToken);
        Assert.That(afterRestart.GetValueOrDefault(LeaseState.Active), Is.EqualTo(Leases), "every active lease survived the crash (AOF)");
        await broker.WaitReadyAsync(TimeSpan.FromSeconds(10), cancellationToken);
        var reconnected = time.GetUtcNow() - restartedAt;

        Assert.That(await ledger.WaitForCountsAsync(LeaseLedger.NothingLeftToRevoke, firstExpiry + TimeSpan.FromSeconds(20) - time.GetUtcNow(), cancellationToken),
            $"not every lease was revoked: {string.Join(", ", await ledger.Store.CountByStateAsync(cancellationToken))}\n{broker.Tail()}");
        var leases = await ledger.GetManyAsync(ids, cancellationToken: cancellationToken);
        var lags = leases.Select(l => (l!.RevokedAt!.Value - l.ExpiresAt).TotalMilliseconds).Order().ToList();
        TestContext.Progress.WriteLine(
            $"[restart] wrote {Leases} leases in {writeTime.TotalMilliseconds:0} ms; restart {(firstExpiry - restartedAt).TotalSeconds:0.0} s before the first expiry; " +
            $"broker ready again {reconnected.TotalMilliseconds:0} ms after the restart; lag ms p50 {LeaseLedger.Percentile(lags, 50):0} " +
            $"p99 {LeaseLedger.Percentile(lags, 99):0} max {lags[^1]:0}");

        Assert.Multiple(() =>
        {
            Assert.That(leases, Has.All.Matches<Lease?>(l => l is { State: LeaseState.Revoked }), "every lease revoked");
            Assert.That(lags[0], Is.GreaterThanOrEqualTo(0), "none before its expiry");
            Assert.That(lags[^1], Is.LessThanOrEqualTo(OnTime.TotalMilliseconds), "each within the on-time bound after its expiry");
        });
    }

    /// <summary>The test's own connection is reconnecting too: retry the count for a few seconds.</summary>
    private static async Task<IReadOnlyDictionary<LeaseState, long>> CountAsync(LeaseLedger ledger, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await ledger.Store.CountByStateAsync(cancellationToken);
            }
            catch (BrokerException) when (attempt < 50)
            {
                await Task.Delay(100, cancellationToken);
            }
        }
    }
}
