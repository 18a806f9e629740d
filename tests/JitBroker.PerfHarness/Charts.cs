using System.Globalization;

namespace JitBroker.PerfHarness;

/// <summary>The harness's charts, all drawn by <see cref="SvgChart"/>.</summary>
internal static class Charts
{
    private static readonly string[] Colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];

    /// <summary>RequestCredential p50/p99/p99.9 by concurrency (closed loop), log scale; colour per percentile, dash per broker run.</summary>
    public static string Concurrency(HarnessResults results)
    {
        // The broker's runs only: the floor behind gRPC is a reference in the tables, and more lines would not be read.
        var runs = results.Broker.Where(b => !b.FloorBehindGrpc).ToList();
        var levels = runs.SelectMany(b => b.Levels.Select(l => l.Concurrency)).Distinct().Order().ToList();
        // Under each level the first run's throughput only: four runs' numbers side by side overlapped their neighbours.
        var first = runs.FirstOrDefault();
        var ticks = levels.Select((c, i) => new ChartTick(i, c.ToString(CultureInfo.InvariantCulture),
            first?.Levels.FirstOrDefault(l => l.Concurrency == c) is { } l ? (l.Throughput / 1000).ToString("0.0", CultureInfo.InvariantCulture) + "k req/s" : "")).ToList();
        var dashes = new[] { "", "6,4", "2,2", "8,3,2,3" };
        var series = runs.SelectMany((run, b) => new (string Name, string Colour, Func<LatencySummary, double> Value)[]
            {
                ("p50", "#1f77b4", l => l.P50), ("p99", "#ff7f0e", l => l.P99), ("p99.9", "#d62728", l => l.P999),
            }
            .Select(p => new ChartSeries($"{p.Name}, {ShortName(run.Audit)}", p.Colour, dashes[b % dashes.Length],
                [.. run.Levels.Select(l => ((double)levels.IndexOf(l.Concurrency), p.Value(l.Latency)))]))).ToList();
        return new SvgChart(
            $"RequestCredential latency at the client vs concurrency, closed loop ({results.Machine.Cores} cores, {results.Machine.Date})",
            first is null ? "concurrent callers" : $"concurrent callers (below each: req/s, {ShortName(first.Audit)})", ticks, LogY: true, series)
        {
            Targets = [new ChartTarget(5, "target: p99 ≤ 5 ms at concurrency 32")],
        }.Render();
    }

    /// <summary>A broker run's name short enough for the legend's column: "fsync Always", "SVID re-presented, cache on".</summary>
    private static string ShortName(string audit) =>
        audit.Split(", ", 2) is [var policy, var rest]
            ? rest.Replace("one SVID per worker, verified-token cache", "SVID re-presented, cache", StringComparison.Ordinal)
                + (policy == "Always" ? "" : $", fsync {policy}")
            : $"fsync {audit}";

    /// <summary>Issue 22 item 7: p50 and p99 vs offered load (open loop), the broker and the floor in process on the same axes.</summary>
    public static string OpenLoop(HarnessResults results)
    {
        var max = results.OpenLoop.SelectMany(r => r.Levels).Select(l => l.Sample.OfferedPerSecond).DefaultIfEmpty(1).Max();
        var ticks = SvgChart.Linear(max).Select(x => new ChartTick(x, x.ToString("N0", CultureInfo.InvariantCulture))).ToList();
        var series = results.OpenLoop.SelectMany((run, r) => new (string Name, string Dash, Func<LatencySummary, double> Value)[]
            {
                ("p50", "", l => l.P50), ("p99", "6,4", l => l.P99),
            }
            .Select(p => new ChartSeries($"{p.Name}, {run.Target} (max {run.MaxPerSecond:N0}/s)", Colours[r % Colours.Length], p.Dash,
                // A level that refused, failed or dropped requests has latencies only for what it answered, which
                // flatters it: it is left out of the chart (the tables show it with its errors).
                [.. run.Levels.Where(l => l.Sample.Errors == 0 && l.Sample.Dropped == 0).Select(l => (l.Sample.OfferedPerSecond, p.Value(l.Sample.Latency)))]))).ToList();
        return new SvgChart(
            $"Latency vs offered load, open loop, from the intended send time ({results.Machine.Cores} cores, {results.Machine.Date})",
            $"offered load, requests/s (points at {string.Join(", ", results.OpenLoop.FirstOrDefault()?.Levels.Select(l => l.FractionOfMax.ToString("P0", CultureInfo.InvariantCulture)) ?? [])} of each one's max; levels with errors or drops not plotted)",
            ticks, LogY: true, series)
        {
            Targets = [new ChartTarget(OpenLoopRun.TargetP99Ms, "target: broker p99 ≤ 5 ms at 50 % of its max")],
        }.Render();
    }

    /// <summary>Issue 22 item 7: revocation lag p50/p99/max per 100 ms of expiry time, one colour per sweep configuration and wave.</summary>
    public static string RevocationLag(HarnessResults results)
    {
        var window = results.Revocation.Select(r => r.ExpiryWindowSeconds).DefaultIfEmpty(10).Max();
        var ticks = Enumerable.Range(0, (int)window + 1).Select(s => new ChartTick(s, $"{s} s")).ToList();
        // One sweep configuration (the usual run): it goes in the caption, so the legend stays short enough to fit.
        var settings = results.Revocation.Select(r => $"sweep {r.SweepInterval}, {r.MaxParallelRevocations} in flight").Distinct().ToList();
        var series = results.Revocation.SelectMany((run, r) => new (string Name, string Dash, Func<LatencySummary, double> Value)[]
            {
                ("p50", "", l => l.P50), ("p99", "6,4", l => l.P99), ("max", "2,2", l => l.Max),
            }
            .Select(p => new ChartSeries(
                settings.Count == 1 ? $"{p.Name}, wave {run.WaveName}" : $"{p.Name}, wave {run.WaveName}, sweep {run.SweepInterval}, {run.MaxParallelRevocations} in flight",
                Colours[r % Colours.Length], p.Dash, [.. run.OverTime.Select(b => (b.FromSeconds + 0.05, p.Value(b.LagMs)))]))).ToList();
        var leases = results.Revocation.FirstOrDefault()?.Leases ?? 0;
        return new SvgChart(
            $"Revocation lag (revoked-at − expires-at) per 100 ms of expiry, {leases:N0} leases over {window:0} s ({results.Machine.Date})",
            settings.Count == 1 ? $"expiry time since the first expiry ({settings[0]})" : "expiry time since the first expiry", ticks, LogY: false, series)
        {
            Targets = [new ChartTarget(250, "target: p99 ≤ 250 ms")],
        }.Render();
    }
}
