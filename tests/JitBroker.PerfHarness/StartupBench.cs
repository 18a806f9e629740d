using System.Diagnostics;
using JitBroker.Attestation;
using JitBroker.Leases.Redis;
using JitBroker.Redis;

namespace JitBroker.PerfHarness;

/// <param name="Build">"build" (bin/Release, as `dotnet run` would start it) or "published" (as the Dockerfile publishes it: scripts/publish-server.sh).</param>
internal sealed record StartupPoint(string Build,
    long ActiveLeases, IReadOnlyList<double> StartupRunsMs, double StartupMs, long RssReadyKiB, long RssAfterLoadKiB, long PeakRssKiB, int LoadRequests, double RedisBytesPerLease);

/// <summary>
/// Start-up time and broker memory against the number of active leases in Redis. The broker keeps nothing per
/// lease in memory (the Redis due set is the schedule), so neither should grow with the count. Leases are added
/// cumulatively between broker starts; each start is a cold process. With <see cref="HarnessOptions.PlainBrokerDll"/>
/// the plain build is measured beside the published (ReadyToRun) broker, their cold starts alternating so that whatever
/// else the machine does falls on both alike.
/// </summary>
internal static class StartupBench
{
    private const int StartsPerPoint = 3;

    public static async Task<List<StartupPoint>> RunAsync(HarnessOptions options, IRedisConnection redis, int redisPid, string dataDirectory, DevTrustDomain dev)
    {
        await RedisAdmin.FlushAsync(redis).ConfigureAwait(false);
        var store = new RedisLeaseStore(redis, "jitbroker:");
        var points = new List<StartupPoint>();
        long active = 0;
        var baseMemory = await RedisAdmin.UsedMemoryAsync(redis).ConfigureAwait(false);
        (string Name, string Dll)[] builds = options.PlainBrokerDll is { } plain
            ? [("build", plain), ("published", options.BrokerDll)]
            : [("measured", options.BrokerDll)];
        foreach (var target in options.StartupLeases)
        {
            if (target > active)
            {
                var now = TimeProvider.System.GetUtcNow();
                // Long-lived, so none expires (or is swept) during the measurement.
                await LeaseSeeder.SeedAsync(store, (int)(target - active), _ => now.AddHours(3), now).ConfigureAwait(false);
                active = target;
            }

            var used = await RedisAdmin.UsedMemoryAsync(redis).ConfigureAwait(false);
            var due = await RedisAdmin.CardAsync(redis, "jitbroker:due").ConfigureAwait(false);
            var settings = new Dictionary<string, string>
            {
                ["JitBroker:Audit:FsyncPolicy"] = "Always",
                ["JitBroker:Audit:Path"] = BrokerProcess.AuditPath(dataDirectory, "startup"),
            };
            // Cold starts vary with whatever else the machine does: take the best of three.
            var runs = builds.ToDictionary(b => b.Name, _ => new List<double>());
            for (var run = 0; run < StartsPerPoint - 1; run++)
            {
                foreach (var (name, dll) in builds)
                {
                    await using var cold = await BrokerProcess.StartAsync(options, dataDirectory, settings, "broker-startup", dll).ConfigureAwait(false);
                    runs[name].Add(cold.StartupTime.TotalMilliseconds);
                }
            }

            foreach (var (name, dll) in builds)
            {
                await using var broker = await BrokerProcess.StartAsync(options, dataDirectory, settings, "broker-startup", dll).ConfigureAwait(false);
                runs[name].Add(broker.StartupTime.TotalMilliseconds);
                var startup = TimeSpan.FromMilliseconds(runs[name].Min());
                await Task.Delay(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
                var rssReady = broker.RssKiB;

                using var client = new AgentClient(broker.GrpcUri);
                var load = new CredentialLoad(client, dev);
                var level = await load.RunAsync(8, options.StartupLoad, broker.Pid, [redisPid], 8000).ConfigureAwait(false);
                // Let a background GC settle so the reading is the steady state, not a transient peak.
                await Task.Delay(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
                points.Add(new StartupPoint(name, due, runs[name], startup.TotalMilliseconds, rssReady, broker.RssKiB, broker.PeakRssKiB, level.Requests,
                    due == 0 ? 0 : (double)(used - baseMemory) / due));
                Console.WriteLine($"  {name,-9} {due,9:N0} active leases: ready in {string.Join(" / ", runs[name].Select(r => r.ToString("0", System.Globalization.CultureInfo.InvariantCulture)))} ms (best {startup.TotalMilliseconds:0}), RSS {rssReady / 1024.0:0.0} MiB ready, {broker.RssKiB / 1024.0:0.0} MiB after {level.Requests} requests");
            }
        }

        return points;
    }
}
