using System.Diagnostics;
using System.Globalization;

namespace JitBroker.PerfHarness;

/// <summary>Latency percentiles of one run, in milliseconds.</summary>
internal sealed record LatencySummary(int Count, double P50, double P99, double P999, double Max, double Mean)
{
    public static LatencySummary FromTicks(IEnumerable<long> stopwatchTicks)
    {
        var ms = stopwatchTicks.Select(t => t * 1000.0 / Stopwatch.Frequency).ToArray();
        return FromMilliseconds(ms);
    }

    public static LatencySummary FromMilliseconds(double[] ms)
    {
        Array.Sort(ms);
        return ms.Length == 0
            ? new LatencySummary(0, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN)
            : new LatencySummary(ms.Length, Percentile(ms, 0.50), Percentile(ms, 0.99), Percentile(ms, 0.999), ms[^1], ms.Average());
    }

    /// <summary>Nearest-rank percentile: the smallest sample with at least p of the samples at or below it.</summary>
    public static double Percentile(double[] sorted, double p) =>
        sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
}

/// <summary>
/// Reads another process's CPU time and memory from procfs, so the broker's cost is measured in the broker's
/// own process, not in the load generator that shares the machine with it.
/// </summary>
internal static class ProcFs
{
    private static readonly Lazy<int> ClockTicks = new(ReadClockTicks);

    /// <summary>utime + stime of the process (all its threads), from /proc/&lt;pid&gt;/stat.</summary>
    public static TimeSpan CpuTime(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        // The command name may contain spaces and parentheses: the fields proper start after the last ')'.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds((double)ticks / ClockTicks.Value);
    }

    /// <summary>Busy CPU time of the whole machine (every process), from /proc/stat.</summary>
    public static TimeSpan MachineBusy()
    {
        var cpu = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
        long busy = 0;
        for (var i = 1; i <= 8 && i < cpu.Length; i++)
        {
            busy += i is 4 or 5 ? 0 : long.Parse(cpu[i], CultureInfo.InvariantCulture);
        }

        return TimeSpan.FromSeconds((double)busy / ClockTicks.Value);
    }

    /// <summary>The 1-minute load average: how busy the machine was with work that is not ours.</summary>
    public static double LoadAverage() =>
        double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);

    /// <summary>Resident set size in KiB (VmRSS).</summary>
    public static long RssKiB(int pid) => StatusField(pid, "VmRSS:");

    /// <summary>Peak resident set size in KiB (VmHWM).</summary>
    public static long PeakRssKiB(int pid) => StatusField(pid, "VmHWM:");

    private static long StatusField(int pid, string name)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith(name, StringComparison.Ordinal))
            {
                return long.Parse(line[name.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            }
        }

        return -1;
    }

    private static int ReadClockTicks()
    {
        using var getconf = Process.Start(new ProcessStartInfo("getconf", "CLK_TCK") { RedirectStandardOutput = true })!;
        var text = getconf.StandardOutput.ReadToEnd().Trim();
        getconf.WaitForExit();
        return int.TryParse(text, CultureInfo.InvariantCulture, out var hz) && hz > 0 ? hz : 100;
    }
}

/// <summary>CPU consumed by a set of processes over a window: broker, Redis, and this load generator.</summary>
internal sealed class CpuWindow
{
    private readonly int _brokerPid;
    private readonly int[] _redisPids;
    private readonly TimeSpan _broker0;
    private readonly TimeSpan _redis0;
    private readonly TimeSpan _self0;
    private readonly TimeSpan _machine0;

    /// <param name="brokerPid">The broker process (0: none).</param>
    /// <param name="redisPids">The Redis server processes (every primary of a cluster; 0: none), counted together.</param>
    public CpuWindow(int brokerPid, params int[] redisPids)
    {
        _brokerPid = brokerPid;
        _redisPids = redisPids;
        _broker0 = brokerPid > 0 ? ProcFs.CpuTime(brokerPid) : TimeSpan.Zero;
        _redis0 = RedisCpu();
        _self0 = Process.GetCurrentProcess().TotalProcessorTime;
        _machine0 = ProcFs.MachineBusy();
    }

    /// <summary>CPU the rest of the machine (other people's builds and tests) used in the window: noise in our numbers.</summary>
    public TimeSpan Others()
    {
        var (broker, redis, self) = Elapsed();
        var others = ProcFs.MachineBusy() - _machine0 - broker - redis - self;
        return others < TimeSpan.Zero ? TimeSpan.Zero : others;
    }

    public (TimeSpan Broker, TimeSpan Redis, TimeSpan LoadGenerator) Elapsed() =>
        (_brokerPid > 0 ? ProcFs.CpuTime(_brokerPid) - _broker0 : TimeSpan.Zero,
         RedisCpu() - _redis0,
         Process.GetCurrentProcess().TotalProcessorTime - _self0);

    private TimeSpan RedisCpu() => _redisPids.Where(p => p > 0).Aggregate(TimeSpan.Zero, (sum, pid) => sum + ProcFs.CpuTime(pid));
}
