using System.Diagnostics;
using System.Globalization;
using JitBroker.Leases.Redis;
using JitBroker.Redis;

namespace JitBroker.PerfHarness;

internal sealed record RevocationLagResult(
    int Wave, string SweepInterval, int BatchSize, int MaxParallelRevocations, string AuditFsync, int Leases, double ExpiryWindowSeconds, double SeedSeconds, int Revoked, int NotRevoked,
    LatencySummary LagMs, double DrainedAfterLastExpirySeconds, double BrokerCpuSeconds, double RedisCpuSeconds, long BrokerPeakRssKiB)
{
    /// <summary>"1 (cold broker)", "2 (warm)", …: the wave as the report and the chart name it.</summary>
    public string WaveName => Wave == 1 ? "1 (cold broker)" : $"{Wave} (warm)";

    /// <summary>
    /// Forks of the Redis servers from the start of seeding to the end of the drain (AOF rewrites, snapshots): seeding
    /// 100k leases can start an AOF rewrite that runs on into the expiry window, competing for the cores and the disk.
    /// </summary>
    public long RedisForks { get; init; }

    /// <summary>Redis commands per revoked lease from the end of seeding to the drain (INFO commandstats, commands inside scripts included).</summary>
    public Dictionary<string, double> RedisCommandsPerLease { get; init; } = [];

    /// <summary>Lag over time (issue 22 item 7's chart): per 100 ms of expiry time since the first expiry, the lag of the leases revoked.</summary>
    public List<LagBucket> OverTime { get; init; } = [];
}

/// <summary>The leases whose expiry fell in [<paramref name="FromSeconds"/>, +0.1 s) after the first expiry, and their lag.</summary>
internal sealed record LagBucket(double FromSeconds, LatencySummary LagMs);

/// <summary>One revocation configuration to measure (JitBroker:Revocation:* and JitBroker:Audit:FsyncPolicy).</summary>
internal sealed record RevocationSettings(string SweepInterval, string MaxParallel, string Fsync, string BatchSize);

/// <summary>
/// Revocation lag: N leases written through the real store with expiries spread evenly over a window, a broker
/// process sweeping them; per lease, lag = the revoked-at time the broker recorded − the lease's expiry (both in
/// the lease hash: <c>ra</c> and <c>e</c>, milliseconds).
/// </summary>
/// <remarks>
/// Each broker meets <see cref="HarnessOptions.RevocationWaves"/> waves, one after the other: wave 1 is its first work
/// after start-up (cold: the revocation path runs before the runtime has compiled it at its final tier), wave 2 and on
/// the same load on the same process once warm, which is what a broker that has been running meets. Both are reported.
/// </remarks>
internal static class RevocationLagBench
{
    public static async Task<IReadOnlyList<RevocationLagResult>> RunAsync(HarnessOptions options, RedisUnderTest target, string dataDirectory,
        RevocationSettings config, double seedRatePerSecond)
    {
        await target.FlushAsync().ConfigureAwait(false);
        var settings = new Dictionary<string, string>
        {
            ["JitBroker:Audit:FsyncPolicy"] = config.Fsync,
            ["JitBroker:Revocation:SweepInterval"] = config.SweepInterval,
            ["JitBroker:Revocation:MaxParallelRevocations"] = config.MaxParallel,
            ["JitBroker:Revocation:BatchSize"] = config.BatchSize,
            // A fresh audit file per flushed Redis: see BrokerProcess.AuditPath.
            ["JitBroker:Audit:Path"] = BrokerProcess.AuditPath(dataDirectory, $"revocation-{config.SweepInterval.Replace(':', '-')}-{config.MaxParallel}-{config.Fsync}-{config.BatchSize}"),
        };
        await using var broker = await BrokerProcess.StartAsync(options, dataDirectory, settings, "broker-revocation").ConfigureAwait(false);
        var waves = new List<RevocationLagResult>();
        for (var wave = 1; wave <= options.RevocationWaves; wave++)
        {
            waves.Add(await WaveAsync(options, target, broker, config, seedRatePerSecond, wave).ConfigureAwait(false));
        }

        return waves;
    }

    private static async Task<RevocationLagResult> WaveAsync(HarnessOptions options, RedisUnderTest target, BrokerProcess broker,
        RevocationSettings config, double seedRatePerSecond, int wave)
    {
        var redis = target.Connection;
        var store = target.LeaseStore();
        var n = options.RevocationLeases;
        var window = TimeSpan.FromSeconds(10);

        // Expiries start once seeding is surely done, so no lease is due while the harness is still writing.
        var lead = TimeSpan.FromSeconds(Math.Max(8, (3.0 * n / seedRatePerSecond) + 3));
        var now = TimeProvider.System.GetUtcNow();
        var first = now + lead;
        var forks0 = await target.ForksAsync().ConfigureAwait(false);
        var seedWatch = Stopwatch.StartNew();
        var ids = await LeaseSeeder.SeedAsync(store, n, i => first + (window * ((double)i / n)), now).ConfigureAwait(false);
        var seedSeconds = seedWatch.Elapsed.TotalSeconds;
        if (TimeProvider.System.GetUtcNow() >= first)
        {
            throw new InvalidOperationException("Seeding took longer than the lead time; leases were due before all were written.");
        }

        var commands0 = await target.CommandCallsAsync().ConfigureAwait(false);
        var cpu = new CpuWindow(broker.Pid, target.Pids);
        var last = first + window;
        await Task.Delay(last - TimeProvider.System.GetUtcNow() + TimeSpan.FromMilliseconds(50)).ConfigureAwait(false);
        var drainWatch = Stopwatch.StartNew();
        while (await target.DueAsync().ConfigureAwait(false) > 0 && drainWatch.Elapsed < TimeSpan.FromMinutes(3))
        {
            await Task.Delay(20).ConfigureAwait(false);
        }

        var drained = (TimeProvider.System.GetUtcNow() - last).TotalSeconds;
        var (brokerCpu, redisCpu, _) = cpu.Elapsed();
        var peak = broker.PeakRssKiB;
        var forks = await target.ForksAsync().ConfigureAwait(false) - forks0;
        var commands1 = await target.CommandCallsAsync().ConfigureAwait(false);

        var lags = new double[n];
        var revoked = 0;
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, 64).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < n)
            {
                var fields = (await redis.ExecuteAsync("HMGET", [(StackExchange.Redis.RedisKey)target.LeaseKey(ids[i]), "e", "ra"]).ConfigureAwait(false)).AsArray();
                if (fields[1].IsNull)
                {
                    lags[i] = double.NaN;
                    continue;
                }

                lags[i] = long.Parse(fields[1].AsString()!, CultureInfo.InvariantCulture) - long.Parse(fields[0].AsString()!, CultureInfo.InvariantCulture);
                Interlocked.Increment(ref revoked);
            }
        })).ConfigureAwait(false);

        var measured = lags.Where(l => !double.IsNaN(l)).ToArray();
        // Lease i expires at first + window·i/n (as seeded above).
        var overTime = Enumerable.Range(0, n).Where(i => !double.IsNaN(lags[i]))
            .GroupBy(i => (int)Math.Floor(window.TotalSeconds * i / n / 0.1))
            .OrderBy(g => g.Key)
            .Select(g => new LagBucket(g.Key * 0.1, LatencySummary.FromMilliseconds([.. g.Select(i => lags[i])])))
            .ToList();
        // The drain loop's ZCARD polls (one per bucket every 20 ms) count too; INFO (this count's own) is left out.
        return new RevocationLagResult(wave, config.SweepInterval, int.Parse(config.BatchSize, CultureInfo.InvariantCulture), int.Parse(config.MaxParallel, CultureInfo.InvariantCulture), config.Fsync, n, window.TotalSeconds, seedSeconds, revoked, n - revoked,
            LatencySummary.FromMilliseconds(measured), drained, brokerCpu.TotalSeconds, redisCpu.TotalSeconds, peak) { OverTime = overTime, RedisForks = forks, RedisCommandsPerLease = RedisAdmin.CommandsPer(commands0, commands1, revoked, digits: 2) };
    }
}
