using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace JitBroker.PerfHarness;

/// <summary>Writes the results as JSON, a Markdown summary and SVG charts (latency by concurrency, open loop, revocation lag over time).</summary>
internal static class Report
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static IReadOnlyList<string> Write(HarnessResults results, HarnessOptions options)
    {
        var stem = Path.Combine(options.OutputDirectory, options.Label);
        var charts = new List<(string Suffix, string Svg)>();
        if (results.Broker.Count > 0)
        {
            charts.Add(("-latency.svg", Charts.Concurrency(results)));
        }

        if (results.OpenLoop.Count > 0)
        {
            charts.Add(("-openloop.svg", Charts.OpenLoop(results)));
        }

        if (results.Revocation.Count > 0)
        {
            charts.Add(("-revocation-lag.svg", Charts.RevocationLag(results)));
        }

        File.WriteAllText(stem + ".json", JsonSerializer.Serialize(results, Json) + "\n");
        File.WriteAllText(stem + ".md", Markdown(results, options.Label));
        var written = new List<string> { stem + ".json", stem + ".md" };
        foreach (var (suffix, svg) in charts)
        {
            File.WriteAllText(stem + suffix, svg);
            written.Add(stem + suffix);
        }

        return written;
    }

    private static void PairsSection(StringBuilder md, HarnessResults r)
    {
        if (r.Pairs.Count == 0)
        {
            return;
        }

        var first = r.Pairs[0];
        var workload = first.ReusedSvids ? "one SVID per worker re-presented, verified-token cache on" : "every request's SVID verified";
        md.AppendLine().AppendLine(Inv($"## Floor and broker alternating (issue 22 item {(first.ReusedSvids ? 2 : 1)} through the machine's drift)")).AppendLine();
        md.AppendLine(Inv($"Each pair: the floor's three operations in process ({first.Floor.Verify.Seconds:0} s each after 1 s of warm-up; the broker idle), then the broker (fsync Always, {workload}) at concurrency {first.Broker.Concurrency} for {first.Broker.Seconds:0} s. Each broker window is divided by the floor measured just before it.")).AppendLine();
        md.AppendLine("| pair | floor issuances/s | floor CPU µs/issuance | broker req/s | broker + Redis CPU µs/req | broker KiB/req | ratio | by CPU | errors |").AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var p in r.Pairs)
        {
            md.AppendLine(Inv($"| {p.Pair} | {p.Floor.IssuancesPerSecond:0} | {p.Floor.CpuUsPerIssuance:0.0} | {p.Broker.Throughput:0} | {p.Broker.BrokerCpuUsPerRequest + p.Broker.RedisCpuUsPerRequest:0.0} | {p.Broker.BrokerAllocatedBytesPerRequest / 1024:0.0} | {p.Ratio:P1} | {p.CpuRatio:P1} | {p.Broker.Errors} |"));
        }

        md.AppendLine().AppendLine(Inv($"Median of {r.Pairs.Count} pairs: **{FloorBrokerPair.Median(r.Pairs.Select(p => p.Ratio)):P1}** of the floor (range {r.Pairs.Min(p => p.Ratio):P1}–{r.Pairs.Max(p => p.Ratio):P1}); by CPU {FloorBrokerPair.Median(r.Pairs.Select(p => p.CpuRatio)):P1} (range {r.Pairs.Min(p => p.CpuRatio):P1}–{r.Pairs.Max(p => p.CpuRatio):P1})."));
    }

    private static void FloorTable(StringBuilder md, FloorResult f, string heading)
    {
        md.AppendLine().AppendLine(heading).AppendLine();
        md.AppendLine("| operation | component | ops/s | harness CPU µs/op | redis CPU µs/op | harness bytes allocated/op | other processes, cores busy |").AppendLine("|---|---|---:|---:|---:|---:|---:|");
        foreach (var op in new[] { f.Verify, f.Sign, f.LeaseWrite })
        {
            md.AppendLine(Inv($"| {op.Name} | {op.Method} | {op.OpsPerSecond:0} | {op.HarnessCpuUsPerOp:0.0} | {op.RedisCpuUsPerOp:0.0} | {Bytes(op)} | {op.OtherProcessesCoresBusy:0.00} |"));
        }

        md.AppendLine(Inv($"| **floor per issuance** | 1 / Σ(1/ops); CPU = Σ harness + redis CPU | **{f.IssuancesPerSecond:0}** | **{f.CpuUsPerIssuance:0.0}** (both) | | | |"));
        foreach (var op in f.CryptoReference)
        {
            md.AppendLine(Inv($"| {op.Name} | {op.Method} | {op.OpsPerSecond:0} | {op.HarnessCpuUsPerOp:0.0} | | {Bytes(op)} | {op.OtherProcessesCoresBusy:0.00} |"));
        }

        static string Bytes(FloorOp op) => double.IsNaN(op.AllocatedBytesPerOp) ? "–" : Inv($"{op.AllocatedBytesPerOp:0}");
    }

    private static string Markdown(HarnessResults r, string label)
    {
        var md = new StringBuilder();
        var m = r.Machine;
        md.AppendLine(Inv($"# Performance harness results ({r.Label})"));
        md.AppendLine();
        md.AppendLine(Inv($"Machine: {m.Cpu}, {m.Cores} cores, {m.RamGiB:0.0} GiB RAM, {m.Os} (kernel {m.Kernel}), .NET {m.Dotnet}, Redis {m.Redis}. Measured {m.Date}."));
        md.AppendLine("Generated by `scripts/perf.sh` (tests/JitBroker.PerfHarness); see docs/benchmarks.md for the analysis.");
        if (r.Floor is { } f)
        {
            FloorTable(md, f, Inv($"## Floor (in process, no gRPC, {f.Threads} threads; lease writes {f.LeaseWritesInFlight} in flight)"));
        }

        if (r.FloorAgain is { } again)
        {
            FloorTable(md, again, "## Floor again, after the broker phases");
            md.AppendLine().AppendLine(Inv($"The machine's speed drifts within a run, so the floor is measured before and after the broker phases and every ratio below is judged against the faster: **{r.FloorIssuancesPerSecond:0} issuances/s** and **{r.FloorCpuUsPerIssuance:0.0} µs** of CPU per issuance."));
        }

        foreach (var run in r.Broker)
        {
            md.AppendLine().AppendLine(Inv($"## Broker process, RequestCredential over gRPC, audit FsyncPolicy={run.Audit}")).AppendLine();
            if (run.Workload is not null)
            {
                md.AppendLine(run.Workload).AppendLine();
            }

            md.AppendLine("| concurrency | requests | req/s | p50 ms | p99 ms | p99.9 ms | broker CPU µs/req | broker KiB allocated/req | broker cores busy | redis CPU µs/req | load-gen CPU µs/req | other processes, cores busy | audit records per write | audit ms per write | broker thread-pool items/req | errors |");
            md.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var l in run.Levels)
            {
                md.AppendLine(Inv($"| {l.Concurrency} | {l.Requests} | {l.Throughput:0} | {l.Latency.P50:0.00} | {l.Latency.P99:0.00} | {l.Latency.P999:0.00} | {l.BrokerCpuUsPerRequest:0} | {l.BrokerAllocatedBytesPerRequest / 1024:0.0} | {l.BrokerCoresBusy:0.00} | {l.RedisCpuUsPerRequest:0} | {l.LoadGeneratorCpuUsPerRequest:0} | {l.OtherProcessesCoresBusy:0.00} | {l.AuditRecordsPerWrite:0.0} | {l.AuditWriteMs:0.00} | {l.BrokerWorkItemsPerRequest:0.0} | {l.Errors} |"));
            }

            md.AppendLine().AppendLine(Inv($"Redis commands per request (best level): {string.Join(", ", run.Best.RedisCommandsPerRequest.OrderByDescending(c => c.Value).Select(c => Inv($"{c.Key} {c.Value:0.##}")))}."));
            if (r.Floor is not null)
            {
                md.AppendLine().AppendLine(Inv($"Ratio broker ÷ floor: **{r.RatioToFloor[run.Audit]:P1}** (best level, concurrency {run.Best.Concurrency}); by CPU (floor CPU per issuance ÷ broker+Redis CPU per request): {r.CpuRatioToFloor[run.Audit]:P1}."));
            }
        }

        if (r.Broker.Count > 0)
        {
            md.AppendLine().AppendLine(Inv($"![RequestCredential latency by concurrency]({label}-latency.svg)"));
        }

        PairsSection(md, r);

        OpenLoopSection(md, r, label);

        if (r.EndTask.Count > 0)
        {
            md.AppendLine().AppendLine(Inv($"## EndTask of a task with {r.EndTask[0].LeasesPerTask} JWT leases ({r.EndTask[0].Tasks} tasks, one at a time)")).AppendLine();
            md.AppendLine("| audit fsync | what | p50 ms | p99 ms | p99.9 ms | max ms | failures |").AppendLine("|---|---|---:|---:|---:|---:|---:|");
            foreach (var e in r.EndTask)
            {
                md.AppendLine(Inv($"| {e.Audit} | EndTask | {e.Latency.P50:0.00} | {e.Latency.P99:0.00} | {e.Latency.P999:0.00} | {e.Latency.Max:0.00} | {e.Failures} |"));
                md.AppendLine(Inv($"| {e.Audit} | the task's 10 RequestCredential calls, in parallel | {e.IssueTenLatency.P50:0.00} | {e.IssueTenLatency.P99:0.00} | {e.IssueTenLatency.P999:0.00} | {e.IssueTenLatency.Max:0.00} | |"));
            }

            md.AppendLine().AppendLine(Inv($"Redis commands per EndTask (commands inside scripts included): {string.Join(", ", r.EndTask[0].RedisCommandsPerEndTask.OrderByDescending(c => c.Value).Select(c => Inv($"{c.Key} {c.Value}")))}."));
            md.AppendLine().AppendLine(Inv($"Audit sink writes (batches; one fsync each under Always) per EndTask, {EndTaskBench.AuditSamples} untimed tasks: {string.Join("; ", r.EndTask.Select(e => Inv($"{e.Audit} {e.AuditWritesPerEndTask:0.0} writes of {e.AuditRecordsPerEndTask:0.0} records")))}."));
        }

        if (r.Revocation.Count > 0)
        {
            md.AppendLine().AppendLine("## Revocation lag (revoked-at − expires-at, per lease)").AppendLine();
            md.AppendLine("| wave | SweepInterval | BatchSize | MaxParallelRevocations | audit fsync | leases | expiry window s | revoked | not revoked | lag p50 ms | p99 ms | p99.9 ms | max ms | drained after last expiry s | broker CPU s | broker CPU µs/lease | Redis CPU µs/lease | redis forks, seeding to drained |");
            md.AppendLine("|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var v in r.Revocation)
            {
                md.AppendLine(Inv($"| {v.WaveName} | {v.SweepInterval} | {v.BatchSize} | {v.MaxParallelRevocations} | {v.AuditFsync} | {v.Leases} | {v.ExpiryWindowSeconds:0} | {v.Revoked} | {v.NotRevoked} | {v.LagMs.P50:0} | {v.LagMs.P99:0} | {v.LagMs.P999:0} | {v.LagMs.Max:0} | {v.DrainedAfterLastExpirySeconds:0.00} | {v.BrokerCpuSeconds:0.0} | {v.BrokerCpuSeconds * 1e6 / Math.Max(1, v.Revoked):0} | {v.RedisCpuSeconds * 1e6 / Math.Max(1, v.Revoked):0} | {v.RedisForks} |"));
            }

            md.AppendLine().AppendLine("Wave 1 is the broker's first work after start-up; later waves meet the same load on the same, now warm, process.");
            md.AppendLine().AppendLine(Inv($"![Revocation lag over time, per 100 ms of expiry]({label}-revocation-lag.svg)"));
        }

        if (r.KillSwitch is { } k)
        {
            md.AppendLine().AppendLine(Inv($"## Kill switch: an agent holding {k.Leases:N0} JWT leases is blocked ({k.Sampled} real credentials sampled by introspection)")).AppendLine();
            md.AppendLine("| block call ms | all sampled inactive (p100) ms | all revoked in Redis ms | all lease.revoked in the audit file ms | revoked | failing |");
            md.AppendLine("|---:|---:|---:|---:|---:|---:|");
            md.AppendLine(Inv($"| {k.BlockCallMs:0} | {k.AllSampledInactiveMs:0} | {k.AllRevokedMs:0} | {k.AuditedMs:0} | {k.Revoked} | {k.Failing} |"));
        }

        if (r.Startup.Count > 0)
        {
            md.AppendLine().AppendLine("## Start-up time and broker memory vs active leases").AppendLine();
            md.AppendLine("build: bin/Release as built; published: as the Dockerfile publishes it (ReadyToRun), cold starts alternating with the build's.").AppendLine();
            md.AppendLine("| build | active leases | start → ready ms, three cold starts | best ms | RSS at ready MiB | RSS after load MiB | peak RSS MiB | load requests | Redis bytes/lease |");
            md.AppendLine("|---|---:|---|---:|---:|---:|---:|---:|---:|");
            foreach (var s in r.Startup)
            {
                md.AppendLine(Inv($"| {s.Build} | {s.ActiveLeases} | {string.Join(" / ", s.StartupRunsMs.Select(x => x.ToString("0", CultureInfo.InvariantCulture)))} | {s.StartupMs:0} | {s.RssReadyKiB / 1024.0:0.0} | {s.RssAfterLoadKiB / 1024.0:0.0} | {s.PeakRssKiB / 1024.0:0.0} | {s.LoadRequests} | {s.RedisBytesPerLease:0} |"));
            }
        }

        return md.ToString();
    }

    private static void OpenLoopSection(StringBuilder md, HarnessResults r, string label)
    {
        if (r.OpenLoop.Count == 0)
        {
            return;
        }

        md.AppendLine().AppendLine("## Open loop: fixed arrival rates, latency from each arrival's intended send time").AppendLine();
        md.AppendLine(Inv($"At most {OpenLoop.MaxOutstanding} requests in flight; an arrival beyond that is counted as dropped, never delayed. Send lag = how late the generator sent an arrival (already included in its latency). CPU µs/req is the broker's for the broker (its idle background work is spread over few requests at low rates), the harness's own for the floor in process. More than 400 calls in flight from the harness's one address are refused by the broker's per-peer limit (`JitBroker:Admission:PeerBurst`, default 400; `peer.rate_limited`, counted as errors)."));
        foreach (var run in r.OpenLoop)
        {
            md.AppendLine().AppendLine(Inv($"### {run.Target}: max {run.MaxPerSecond:0} req/s ({run.MaxSource})")).AppendLine();
            md.AppendLine(Inv($"Pinning: {run.Pinning}.")).AppendLine();
            if (run.Workload is not null)
            {
                md.AppendLine(run.Workload).AppendLine();
            }

            if (run.WarmupSeconds > 0)
            {
                md.AppendLine(Inv($"Warm-up: each level first sent {run.WarmupSeconds:0.#} s at its rate, not measured (`--openloop-warmup`).")).AppendLine();
            }

            md.AppendLine("| of max | offered req/s | achieved req/s | p50 ms | p99 ms | p99.9 ms | max ms | send lag p99 ms | dropped | errors | CPU µs/req | broker KiB allocated/req | redis CPU µs/req | other processes, cores busy | load average | over 10 ms | worst ½ s: at s, p99 / max ms | broker GCs (ms paused) | redis forks |");
            md.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|");
            foreach (var l in run.Levels)
            {
                var (s, c) = (l.Sample, l.Costs);
                var cpu = c.BrokerCpuUsPerRequest > 0 ? c.BrokerCpuUsPerRequest : c.LoadGeneratorCpuUsPerRequest;
                // A level in which nothing was answered (all refused) has no latency, and its costs per request would be
                // a whole level's cost divided by almost nothing: "–" rather than NaN or a meaningless giant.
                var answered = s.Completed > 0;
                string Ms(double v) => double.IsNaN(v) ? "–" : v.ToString("0.00", CultureInfo.InvariantCulture);
                string PerRequest(double v, string format) => answered && !double.IsNaN(v) ? v.ToString(format, CultureInfo.InvariantCulture) : "–";
                md.AppendLine(Inv($"| {l.FractionOfMax:P0} | {s.OfferedPerSecond:0} | {s.Completed / s.Seconds:0} | {Ms(s.Latency.P50)} | {Ms(s.Latency.P99)} | {Ms(s.Latency.P999)} | {Ms(s.Latency.Max)} | {s.SendLagMs.P99:0.00} | {s.Dropped} | {s.Errors} | {PerRequest(cpu, "0")} | {PerRequest(c.BrokerAllocatedBytesPerRequest / 1024, "0.0")} | {PerRequest(c.RedisCpuUsPerRequest, "0")} | {c.OtherProcessesCoresBusy:0.00} | {c.LoadAverage:0.00} | {s.Over10Ms} | {(s.Worst is { } w ? Inv($"{w.StartSeconds:0.0}: {w.P99Ms:0.00} / {w.MaxMs:0.00}") : "–")} | {(double.IsNaN(c.BrokerGcCollections) ? "–" : Inv($"{c.BrokerGcCollections:0} ({c.BrokerGcPauseMs:0.0})"))} | {c.RedisForks} |"));
            }

            if (run.Target.StartsWith("broker", StringComparison.Ordinal))
            {
                md.AppendLine().AppendLine(run.TargetLevel is { } t
                    ? Inv($"Issue 22 item 3 (p99 ≤ {OpenLoopRun.TargetP99Ms} ms and p99.9 ≤ {OpenLoopRun.TargetP999Ms} ms at 50 % of the maximum, nothing dropped): p99 {t.Sample.Latency.P99:0.00} ms, p99.9 {t.Sample.Latency.P999:0.00} ms, dropped {t.Sample.Dropped}, errors {t.Sample.Errors} — **{(run.TargetMet == true ? "met" : "not met")}**.")
                    : "Issue 22 item 3: not judged (no 50 % rate in this run).");
            }
        }

        md.AppendLine().AppendLine(Inv($"![Latency vs offered load, broker and floor, open loop]({label}-openloop.svg)"));
    }

    private static string Inv(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
