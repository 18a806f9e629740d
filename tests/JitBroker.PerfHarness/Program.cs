using JitBroker.Attestation;
using JitBroker.PerfHarness;
using JitBroker.Redis;

// Issue 10's performance harness: the floor (three irreducible operations, in process), the broker (a separate
// process, RequestCredential over gRPC at several concurrencies, audit fsync Always and Interval), EndTask of ten
// JWT leases, open-loop latency at fixed arrival rates (issue 22), revocation lag for 100k expiring leases, start-up
// time and RSS against active leases.
// Run through scripts/perf.sh, which builds Release and owns the Redis server.
if (args is [GrpcFloorServer.Flag, ..])
{
    return await GrpcFloorServer.RunAsync(args); // a child process of the grpcfloor phase, not the harness
}

if (!OperatingSystem.IsLinux())
{
    await Console.Error.WriteLineAsync("The harness reads broker CPU and memory from /proc: it runs on Linux only.");
    return 2;
}

HarnessOptions options;
try
{
    options = HarnessOptions.Parse(args);
}
catch (ArgumentException ex)
{
    await Console.Error.WriteLineAsync(ex.Message);
    return 2;
}

var work = Directory.CreateTempSubdirectory("jitbroker-perf-").FullName;
var dataDirectory = Path.Combine(work, "data");
Directory.CreateDirectory(dataDirectory).UnixFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
using var dev = DevTrustDomain.LoadOrCreate(Path.Combine(dataDirectory, "dev-trust-domain"), TimeProvider.System);
if (options.ClusterNodes.Count > 0 && options.Phases.Except(["broker", "interval", "revocation"]).Any())
{
    await Console.Error.WriteLineAsync("On a Redis Cluster the harness runs the broker, interval and revocation phases only.");
    return 2;
}

await using var target = await RedisUnderTest.ConnectAsync(options);
var redis = target.Connection;
var redisPid = target.Pids[0];
await target.FlushAsync();

var machine = await MachineInfo.ReadAsync(redis);
Console.WriteLine($"# JitBroker performance harness — {machine.Cpu}, {machine.Cores} cores, {machine.RamGiB:0.0} GiB, .NET {machine.Dotnet}, Redis {machine.Redis}, {machine.Date}");
Console.WriteLine(target.IsCluster
    ? $"Redis Cluster: {target.Nodes.Count} primaries ({string.Join(", ", target.Nodes)}), ledger in {target.Layout.Buckets} buckets; Redis CPU is the sum over the primaries"
    : $"Redis: one server ({target.Nodes[0]})");
var results = new HarnessResults { Label = options.Label, Machine = machine };

if (options.Phases.Contains("floor"))
{
    Console.WriteLine("\n## Floor (in process, no gRPC, all cores)");
    results.Floor = await new Floor(options, dev, work, redis, redisPid).RunAsync();
    PrintFloor(results.Floor);
}

// Items 1 and 3 are judged against the floor, which verifies every issuance's SVID: so does the broker in these phases.
// Its verified-token cache (on by default) would answer 15 of each task's 16 requests without verifying; item 2's reuse
// phase measures the cache.
const string VerifiedTokenCacheSetting = "JitBroker:Attestation:JwtSvid:VerifiedTokenCache:Enabled";
var everyRequestVerified = new Dictionary<string, string> { [VerifiedTokenCacheSetting] = "false" };
foreach (var (phase, policy) in new[] { ("broker", "Always"), ("interval", "Interval") })
{
    if (!options.Phases.Contains(phase))
    {
        continue;
    }

    var (run, client, broker, load) = await RunBrokerAsync(phase, policy, policy, everyRequestVerified, CredentialLoad.DefaultRequestsPerTask);
    await using (broker)
    using (client)
    {
        results.Broker.Add(run);
        if (options.Phases.Contains("endtask"))
        {
            Console.WriteLine($"\n## EndTask of a task with {EndTaskBench.LeasesPerTask} JWT leases (FsyncPolicy={policy}, one task at a time)");
            var e = await EndTaskBench.RunAsync(client, load, redis, broker.HttpUri, policy, options.EndTaskTasks, 50);
            results.EndTask.Add(e);
            Console.WriteLine($"  {e.Tasks} tasks: p50 {e.Latency.P50:0.00} ms, p99 {e.Latency.P99:0.00} ms, p99.9 {e.Latency.P999:0.00} ms, failures {e.Failures} {e.FirstFailure}");
            Console.WriteLine($"  audit per EndTask: {e.AuditWritesPerEndTask:0.0} sink writes, {e.AuditRecordsPerEndTask:0.0} records ({EndTaskBench.AuditSamples} untimed tasks)");
            Console.WriteLine($"  Redis commands per EndTask: {Report.CommandList(e.RedisCommandsPerEndTask)}");
        }
    }
}

// Issue 22 item 2: each worker re-presents one JWT-SVID for the whole level (SPIRE's cached SVID), against a broker with
// the verified-token cache off and one with it on; audit fsync Always, as in the broker phase.
if (options.Phases.Contains("reuse"))
{
    foreach (var enabled in new[] { false, true })
    {
        var label = $"Always, one SVID per worker, verified-token cache {(enabled ? "on" : "off")}";
        var cache = new Dictionary<string, string> { [VerifiedTokenCacheSetting] = enabled ? "true" : "false" };
        var (run, client, broker, _) = await RunBrokerAsync("reuse-" + (enabled ? "on" : "off"), "Always", label, cache, CredentialLoad.SvidPerWorker);
        await using (broker)
        using (client)
        {
            results.Broker.Add(run);
        }
    }
}

// Issue 22 items 1 and 2, the bound behind them: the floor's three operations and nothing else, served on the broker's
// transport in a process of their own (GrpcFloorServer), under the same load as the broker phases — every SVID verified,
// then one SVID per worker with the verified-token cache on.
if (options.Phases.Contains("grpcfloor"))
{
    foreach (var cache in new[] { false, true })
    {
        await target.FlushAsync();
        var label = cache ? "one SVID per worker, verified-token cache on" : "every SVID verified";
        Console.WriteLine($"\n## The floor behind gRPC (the floor's operations on the broker's transport, nothing else), {label}");
        var requestsPerTask = cache ? CredentialLoad.SvidPerWorker : CredentialLoad.DefaultRequestsPerTask;
        await using var server = await GrpcFloorProcess.StartAsync(options.Redis, Path.Combine(dataDirectory, "dev-trust-domain"), work, cache);
        using var client = new AgentClient(server.GrpcUri);
        var load = new CredentialLoad(client, dev, target, requestsPerTask);
        await load.RunAsync(16, TimeSpan.FromSeconds(15), server.Pid, target.Pids, 15000); // warm-up, not recorded
        var run = new BrokerRun(label, [])
        {
            FloorBehindGrpc = true,
            VerifiedTokenCache = cache,
            Workload = cache
                ? "Workload: one SVID per worker for the whole level; verified-token cache on (re-presented SVIDs are answered from it), as in the broker's cache-on run."
                : $"Workload: one SVID per task of {requestsPerTask} requests; verified-token cache off, so every request's SVID is verified, as in the floor.",
        };
        await MeasureLevelsAsync(run, load, server.Pid); // the broker's columns are the server's; its /metrics ones stay NaN
        results.Broker.Add(run);
    }
}

if (results.Floor is not null && results.Broker.Count > 0)
{
    // The machine's speed drifts within a run: the floor is measured again after the broker phases, and every ratio is
    // judged against the faster floor (and the cheaper CPU per issuance) of the two.
    Console.WriteLine("\n## Floor again, after the broker phases (ratios use the faster of the two floors)");
    await target.FlushAsync();
    results.FloorAgain = await new Floor(options, dev, work, redis, redisPid).RunAsync(withReference: false);
    PrintFloor(results.FloorAgain);
    Console.WriteLine($"  floor for the ratios           {results.FloorIssuancesPerSecond,10:N0} issuances/s   CPU {results.FloorCpuUsPerIssuance:0.0} µs per issuance");
    foreach (var run in results.Broker)
    {
        var best = run.Levels.MaxBy(l => l.Throughput)!;
        var who = run.FloorBehindGrpc ? "floor behind gRPC" : "broker";
        Console.WriteLine($"\nratio {who} ÷ floor ({run.Audit}): {best.Throughput:N0} / {results.FloorIssuancesPerSecond:N0} = {results.RatioToFloor[run.Audit]:P1} (best at concurrency {best.Concurrency}); by CPU: {results.FloorCpuUsPerIssuance:0} µs / {best.BrokerCpuUsPerRequest + best.RedisCpuUsPerRequest:0} µs = {results.CpuRatioToFloor[run.Audit]:P1}");
        if (results.GrpcFloorFor(run) is { } grpcFloor)
        {
            Console.WriteLine($"  broker ÷ floor behind gRPC ({grpcFloor.Audit}): {best.Throughput:N0} / {grpcFloor.Best.Throughput:N0} = {best.Throughput / grpcFloor.Best.Throughput:P1}");
        }
    }
}

// Issue 22 item 1 (or, with --pair-workload reused, item 2) read through the machine's drift: short floor windows
// alternate with broker windows at one concurrency, each broker window divided by the floor measured just before it;
// the median pair is the reading.
if (options.Phases.Contains("pairs") && options.Pairs > 0)
{
    var reused = options.PairReusedSvids;
    var concurrency = options.PairConcurrency > 0
        ? options.PairConcurrency
        : results.Broker.FirstOrDefault(b => b.Audit == (reused ? "Always, one SVID per worker, verified-token cache on" : "Always"))?.Best.Concurrency ?? 256;
    var (client, broker, load) = reused
        ? await StartBrokerAsync("pairs", "Always", "Always, one SVID per worker, verified-token cache on, alternating with the floor",
            new Dictionary<string, string> { [VerifiedTokenCacheSetting] = "true" }, CredentialLoad.SvidPerWorker)
        : await StartBrokerAsync("pairs", "Always", "Always, alternating with the floor", everyRequestVerified, CredentialLoad.DefaultRequestsPerTask);
    await using (broker)
    using (client)
    {
        var seconds = options.PairDuration.TotalSeconds;
        Console.WriteLine($"  {options.Pairs} pairs: the floor's three operations in process ({seconds:0} s each after 1 s of warm-up; the broker idle, Redis not flushed), then the broker at concurrency {concurrency} for {seconds:0} s");
        Console.WriteLine("  pair   floor/s  floor CPU µs   broker req/s  broker+redis CPU µs    ratio  by CPU  errors");
        for (var i = 1; i <= options.Pairs; i++)
        {
            var floor = await new Floor(options, dev, work, redis, redisPid) { Duration = options.PairDuration, Warmup = TimeSpan.FromSeconds(1), FlushAfterWrites = false }
                .RunAsync(withReference: false);
            var level = await load.RunAsync(concurrency, options.PairDuration, broker.Pid, target.Pids, floor.IssuancesPerSecond);
            var pair = new FloorBrokerPair(i, floor, level) { ReusedSvids = reused };
            results.Pairs.Add(pair);
            Console.WriteLine($"  {i,4} {floor.IssuancesPerSecond,9:N0} {floor.CpuUsPerIssuance,13:0.0} {level.Throughput,14:N0} {level.BrokerCpuUsPerRequest + level.RedisCpuUsPerRequest,20:0.0} {pair.Ratio,8:P1} {pair.CpuRatio,7:P1}  {level.Errors}");
        }

        Console.WriteLine($"  issue 22 item {(reused ? "2 (≥ 100 %)" : "1 (≥ 70 %)")}, median of {results.Pairs.Count} pairs: {FloorBrokerPair.Summary(results.Pairs)}");
    }
}

// Issue 22 items 3 and 7: fixed arrival rates at fractions of the maximum, latency from each arrival's intended send
// time; the same broker configuration as the broker phase (Redis, audit fsync Always). The floor's issuance is driven
// the same way in process, at the same fractions of the floor's maximum, for the chart.
if (options.Phases.Contains("openloop"))
{
    if (results.Floor is not null)
    {
        Console.WriteLine($"\n## Open loop: the floor's issuance in process at {Fractions()} of {results.Floor.IssuancesPerSecond:N0} issuances/s (nothing pinned)");
        await target.FlushAsync();
        var floorRun = await new FloorOpenLoop(dev, work, redis, redisPid).RunAsync(results.Floor.IssuancesPerSecond, options.OpenLoopFractions, options.LevelDuration);
        results.OpenLoop.Add(floorRun);
        PrintOpenLoop(floorRun);
    }

    var brokerCores = CorePinning.BrokerCores(options.Pin);
    var audit = options.OpenLoopAudit;
    var (client, broker, load) = await StartBrokerAsync("openloop", audit, audit + ", open loop", everyRequestVerified, CredentialLoad.DefaultRequestsPerTask, brokerCores);
    await using (broker)
    using (client)
    using (var pinning = CorePinning.Apply(options.Pin, brokerCores, broker.Pid, target.Pids))
    {
        Console.WriteLine($"  pinning: {pinning.Description}");
        // The maximum the fractions refer to is measured as the load runs: pinned, the broker has one of the two cores the
        // broker phase gave it, so that phase's maximum would put "50 %" at about all this broker can do.
        var measured = pinning.Pinned ? null : results.Broker.FirstOrDefault(b => b.Audit == audit)?.Best.Throughput;
        var (max, source) = options.OpenLoopMax > 0 ? (options.OpenLoopMax, "--openloop-max")
            : measured is { } m ? (m, "broker phase, best level, same run")
            : ((await load.RunAsync(128, options.LevelDuration, broker.Pid, target.Pids, 15000)).Throughput,
                pinning.Pinned ? "closed-loop probe at concurrency 128, this broker, pinned as below" : "closed-loop probe at concurrency 128, this broker");
        Console.WriteLine($"\n## Open loop: broker RequestCredential at {Fractions()} of {max:N0} req/s ({source}), latency from the intended send time");
        var run = new OpenLoopRun(audit == "Always" ? "broker, gRPC" : $"broker, gRPC, audit FsyncPolicy={audit}", max, source, pinning.Description, [])
        {
            Workload = Workload(everyRequestVerified, CredentialLoad.DefaultRequestsPerTask),
            WarmupSeconds = options.OpenLoopWarmup.TotalSeconds,
        };
        foreach (var fraction in options.OpenLoopFractions)
        {
            var timeline = options.OpenLoopTimeline is { } prefix ? FormattableString.Invariant($"{prefix}-{max * fraction:F0}.csv") : null;
            run.Levels.Add(await load.RunOpenLoopAsync(fraction, max * fraction, options.LevelDuration, options.OpenLoopWarmup, timeline, broker.Pid, target.Pids));
        }

        results.OpenLoop.Add(run);
        PrintOpenLoop(run);
        Console.WriteLine(run.TargetLevel is { } t
            ? $"  issue 22 item 3 target at 50 % ({t.Sample.OfferedPerSecond:N0} req/s, audit FsyncPolicy={audit}): p99 {t.Sample.Latency.P99:0.00} ms (≤ 5), p99.9 {t.Sample.Latency.P999:0.00} ms (≤ 10), dropped {t.Sample.Dropped}, errors {t.Sample.Errors}: {(run.TargetMet == true ? "MET" : "NOT MET")}"
            : "  issue 22 item 3 target: not judged (no 50 % rate in --openloop-fractions)");
    }
}

if (options.Phases.Contains("revocation"))
{
    var seedRate = results.Floor?.LeaseWrite.OpsPerSecond ?? 10_000;
    foreach (var config in options.SweepConfigs)
    {
        var parts = config.Split('/');
        var (interval, parallel, fsync, batch) = (parts[0], parts[1], parts.Length > 2 ? parts[2] : "Always", parts.Length > 3 ? parts[3] : "500");
        Console.WriteLine($"\n## Revocation lag, {options.RevocationLeases:N0} leases expiring within 10 s, SweepInterval={interval}, BatchSize={batch}, MaxParallelRevocations={parallel}, audit FsyncPolicy={fsync}");
        foreach (var r in await RevocationLagBench.RunAsync(options, target, dataDirectory, new RevocationSettings(interval, parallel, fsync, batch), seedRate))
        {
            results.Revocation.Add(r);
            Console.WriteLine($"  wave {r.WaveName}: revoked {r.Revoked:N0}, not revoked {r.NotRevoked}; lag p50 {r.LagMs.P50:0} ms, p99 {r.LagMs.P99:0} ms, p99.9 {r.LagMs.P999:0} ms, max {r.LagMs.Max:0} ms; drained {r.DrainedAfterLastExpirySeconds:0.00} s after the last expiry; broker CPU {r.BrokerCpuSeconds:0.0} s; redis forks {r.RedisForks}");
            Console.WriteLine($"    Redis commands per lease: {Report.CommandList(r.RedisCommandsPerLease)}");
        }
    }
}

if (options.Phases.Contains("killswitch"))
{
    Console.WriteLine("\n## Kill switch: block an agent holding 10,000 JWT leases (100 of them real credentials, sampled by introspection)");
    var k = await KillSwitchBench.RunAsync(options, redis, dataDirectory, dev, 10_000, 100);
    results.KillSwitch = k;
    Console.WriteLine($"  block call {k.BlockCallMs:0} ms; all {k.InactiveSamples}/{k.Sampled} sampled credentials inactive (p100) {k.AllSampledInactiveMs:0} ms; " +
        $"all {k.Revoked:N0} revoked in Redis {k.AllRevokedMs:0} ms; all lease.revoked in the audit file {k.AuditedMs:0} ms; failing {k.Failing}");
}

if (options.Phases.Contains("startup"))
{
    Console.WriteLine("\n## Start-up time and broker RSS vs active leases");
    results.Startup = await StartupBench.RunAsync(options, redis, redisPid, dataDirectory, dev);
}

await target.FlushAsync();
Directory.CreateDirectory(options.OutputDirectory);
var written = Report.Write(results, options);
Console.WriteLine($"\nwrote {string.Join(", ", written)}");
Directory.Delete(work, recursive: true);
return 0;

static string Workload(Dictionary<string, string> settings, int requestsPerTask)
{
    var svids = requestsPerTask == CredentialLoad.SvidPerWorker ? "one SVID per worker for the whole level" : $"one SVID per task of {requestsPerTask} requests";
    return settings.GetValueOrDefault(VerifiedTokenCacheSetting) == "false"
        ? $"Workload: {svids}; verified-token cache off, so every request's SVID is verified, as in the floor."
        : $"Workload: {svids}; verified-token cache as the broker is configured (on by default: re-presented SVIDs are answered from it).";
}

static void PrintFloor(FloorResult floor)
{
    foreach (var op in new[] { floor.Verify, floor.Sign, floor.LeaseWrite }.Concat(floor.CryptoReference))
    {
        Console.WriteLine($"  {op.Name,-24} {op.OpsPerSecond,10:N0} ops/s   harness CPU {op.HarnessCpuUsPerOp,6:0.0} µs/op   redis CPU {op.RedisCpuUsPerOp,5:0.0} µs/op   others {op.OtherProcessesCoresBusy:0.00} cores");
    }

    Console.WriteLine($"  floor per issuance       {floor.IssuancesPerSecond,10:N0} issuances/s   CPU {floor.CpuUsPerIssuance:0.0} µs per issuance (harness + redis)");
}

string Fractions() => string.Join("/", options.OpenLoopFractions.Select(f => $"{f:P0}"));

void PrintOpenLoop(OpenLoopRun run)
{
    Console.WriteLine("  of max  offered/s  achieved/s   p50 ms   p99 ms  p99.9 ms   max ms  send lag p99 ms  dropped  errors  CPU µs/req (broker or harness)  redis µs/req  others(cores)");
    foreach (var l in run.Levels)
    {
        var (s, c) = (l.Sample, l.Costs);
        var cpu = c.BrokerCpuUsPerRequest > 0 ? c.BrokerCpuUsPerRequest : c.LoadGeneratorCpuUsPerRequest;
        // A level in which nothing was answered has no latency: "–", not NaN.
        static string Ms(double v) => double.IsNaN(v) ? "–" : v.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture);
        Console.WriteLine($"  {l.FractionOfMax,6:P0} {s.OfferedPerSecond,10:N0} {s.Completed / s.Seconds,11:N0} {Ms(s.Latency.P50),8} {Ms(s.Latency.P99),8} {Ms(s.Latency.P999),9} {Ms(s.Latency.Max),8} {s.SendLagMs.P99,16:0.00} {s.Dropped,8} {s.Errors,7}{(s.FirstError is null ? "" : " " + s.FirstError)}  {cpu,30:0} {c.RedisCpuUsPerRequest,13:0} {c.OtherProcessesCoresBusy,14:0.00}");
        // The floor's open loop has no broker process: its broker-only counters are not measured (NaN), so they are left out.
        var broker = double.IsNaN(c.BrokerGcCollections) ? "" : $"broker GCs {c.BrokerGcCollections:0} ({c.BrokerGcPauseMs:0.0} ms paused), {c.BrokerWorkItemsPerRequest:0.0} pool items/req; ";
        var audit = double.IsNaN(c.AuditRecordsPerWrite) ? "" : $"; audit {c.AuditRecordsPerWrite:0.0} records per write, {c.AuditWriteMs:0.00} ms each";
        var worst = s.Worst is { } w ? $"worst half second at {w.StartSeconds:0.0} s: p99 {w.P99Ms:0.00}, max {w.MaxMs:0.00} ms" : "no request answered";
        Console.WriteLine($"          {s.Over10Ms} over 10 ms; {worst}; {broker}redis forks {c.RedisForks}{audit}");
    }
}

// Starts a broker with audit FsyncPolicy=policy (plus extra settings) on a flushed Redis and warms it up (JIT tiering,
// connections); the caller disposes the broker and client.
async Task<(AgentClient Client, BrokerProcess Broker, CredentialLoad Load)> StartBrokerAsync(
    string phase, string policy, string label, Dictionary<string, string> extra, int requestsPerTask, string? cores = null)
{
    await target.FlushAsync();
    Console.WriteLine($"\n## Broker process, RequestCredential over gRPC, audit FsyncPolicy={label}");
    Console.WriteLine("  " + Workload(extra, requestsPerTask));

    var settings = new Dictionary<string, string>(extra)
    {
        ["JitBroker:Audit:FsyncPolicy"] = policy,
        ["JitBroker:Audit:Path"] = BrokerProcess.AuditPath(dataDirectory, phase),
    };
    var broker = await BrokerProcess.StartAsync(options, dataDirectory, settings, "broker-" + phase, cores: cores);
    var client = new AgentClient(broker.GrpcUri);
    try
    {
        var load = new CredentialLoad(client, dev, target, requestsPerTask, broker.HttpUri);
        await load.RunAsync(16, TimeSpan.FromSeconds(15), broker.Pid, target.Pids, 15000); // not recorded
        return (client, broker, load);
    }
    catch
    {
        client.Dispose();
        await broker.DisposeAsync(); // never leave a broker process behind
        throw;
    }
}

// RequestCredential at every level of --levels against the server with process id serverPid (a broker, or the gRPC
// floor), each level's expected rate taken from the one before (it sizes the SVID pool); printed as it goes.
async Task MeasureLevelsAsync(BrokerRun run, CredentialLoad load, int serverPid)
{
    var expected = 15000.0;
    Console.WriteLine("  conc   req/s     p50 ms   p99 ms  p99.9 ms  broker CPU µs/req  broker KiB/req  redis µs/req  loadgen µs/req  others(cores)  audit records/write  ms/write  pool items/req  errors");
    foreach (var level in options.Levels)
    {
        var r = await load.RunAsync(level, options.LevelDuration, serverPid, target.Pids, expected);
        expected = Math.Max(1000, r.Throughput);
        run.Levels.Add(r);
        Console.WriteLine($"  {level,4} {r.Throughput,8:N0} {r.Latency.P50,9:0.00} {r.Latency.P99,8:0.00} {r.Latency.P999,9:0.00} {r.BrokerCpuUsPerRequest,18:0} {r.BrokerAllocatedBytesPerRequest / 1024,15:0.0} {r.RedisCpuUsPerRequest,13:0} {r.LoadGeneratorCpuUsPerRequest,15:0} {r.OtherProcessesCoresBusy,13:0.00} {r.AuditRecordsPerWrite,20:0.0} {r.AuditWriteMs,9:0.00} {r.BrokerWorkItemsPerRequest,15:0.0}  {r.Errors}{(r.FirstError is null ? "" : " " + r.FirstError)}");
    }

    Console.WriteLine($"  Redis commands per request: {Report.CommandList(run.Best.RedisCommandsPerRequest)}");
}

// Starts a broker (StartBrokerAsync) and measures RequestCredential at every level; the caller disposes the broker and
// client (EndTask runs against them).
async Task<(BrokerRun Run, AgentClient Client, BrokerProcess Broker, CredentialLoad Load)> RunBrokerAsync(
    string phase, string policy, string label, Dictionary<string, string> extra, int requestsPerTask)
{
    var (client, broker, load) = await StartBrokerAsync(phase, policy, label, extra, requestsPerTask);
    try
    {
        var run = new BrokerRun(label, [])
        {
            Workload = Workload(extra, requestsPerTask),
            VerifiedTokenCache = extra.TryGetValue(VerifiedTokenCacheSetting, out var cached) && cached == "true",
        };
        await MeasureLevelsAsync(run, load, broker.Pid);
        return (run, client, broker, load);
    }
    catch
    {
        client.Dispose();
        await broker.DisposeAsync();
        throw;
    }
}
