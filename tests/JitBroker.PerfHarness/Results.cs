using System.Diagnostics;
using System.Globalization;
using JitBroker.Redis;

namespace JitBroker.PerfHarness;

internal sealed record MachineInfo(string Cpu, int Cores, double RamGiB, string Os, string Kernel, string Dotnet, string Redis, string Date)
{
    public static async Task<MachineInfo> ReadAsync(IRedisConnection redis)
    {
        var cpu = Run("lscpu").Split('\n').FirstOrDefault(l => l.StartsWith("Model name:", StringComparison.Ordinal))?["Model name:".Length..].Trim() ?? "unknown";
        var memKiB = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
        var os = File.Exists("/etc/os-release")
            ? File.ReadLines("/etc/os-release").FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))?["PRETTY_NAME=".Length..].Trim('"') ?? "Linux"
            : "Linux";
        return new MachineInfo(cpu, Environment.ProcessorCount, double.Parse(memKiB, CultureInfo.InvariantCulture) / 1024 / 1024, os,
            Run("uname", "-r").Trim(), Environment.Version.ToString(), await RedisAdmin.VersionAsync(redis).ConfigureAwait(false),
            TimeProvider.System.GetUtcNow().ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture));
    }

    private static string Run(string file, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true })!;
        var text = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return text;
    }
}

internal sealed record BrokerRun(string Audit, List<LevelResult> Levels)
{
    /// <summary>How the load presented SVIDs and whether the broker verified each (printed under the run's heading).</summary>
    public string? Workload { get; init; }

    public LevelResult Best => Levels.MaxBy(l => l.Throughput)!;

    /// <summary>Not the broker: the floor's three operations served on the broker's transport (the grpcfloor phase).</summary>
    public bool FloorBehindGrpc { get; init; }

    /// <summary>Whether the server answered re-presented SVIDs from its verified-token cache.</summary>
    public bool VerifiedTokenCache { get; init; }
}

/// <summary>
/// One pair of the pairs phase: the floor's three operations measured, then the broker right after it at one concurrency.
/// Dividing each broker window by the floor just before it cancels most of the machine's drift, which two phases
/// minutes apart do not.
/// </summary>
internal sealed record FloorBrokerPair(int Pair, FloorResult Floor, LevelResult Broker)
{
    /// <summary>Item 2's workload (one SVID per worker, verified-token cache on) instead of item 1's (every SVID verified).</summary>
    public bool ReusedSvids { get; init; }

    public double Ratio => Broker.Throughput / Floor.IssuancesPerSecond;

    public double CpuRatio => Floor.CpuUsPerIssuance / (Broker.BrokerCpuUsPerRequest + Broker.RedisCpuUsPerRequest);

    /// <summary>
    /// "58.5 % (range 52.0 %–67.3 %); by CPU 67.8 % (range 64.1 %–72.4 %)": the pairs' reading, one wording for the console and
    /// the report (<paramref name="strong"/> wraps the median ratio, e.g. in markdown's **).
    /// </summary>
    public static string Summary(IReadOnlyList<FloorBrokerPair> pairs, string strong = "")
    {
        static string Range(IEnumerable<double> values) => FormattableString.Invariant($"{values.Min():P1}–{values.Max():P1}");
        return FormattableString.Invariant(
            $"{strong}{Median(pairs.Select(p => p.Ratio)):P1}{strong} (range {Range(pairs.Select(p => p.Ratio))}); by CPU {Median(pairs.Select(p => p.CpuRatio)):P1} (range {Range(pairs.Select(p => p.CpuRatio))})");
    }

    /// <summary>The middle value (the mean of the two middle ones for an even count).</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : (sorted[(sorted.Length - 1) / 2] + sorted[sorted.Length / 2]) / 2;
    }
}

internal sealed class HarnessResults
{
    public required string Label { get; init; }

    public required MachineInfo Machine { get; init; }

    public FloorResult? Floor { get; set; }

    /// <summary>
    /// The floor measured a second time, after the broker phases (when both ran). The machine's speed drifts within a run
    /// (by a third to a half within minutes on the shared VM these runs were made on), and a floor measured at a slow moment
    /// flatters every ratio: the ratios use the faster of the two.
    /// </summary>
    public FloorResult? FloorAgain { get; set; }

    /// <summary>The floor the throughput ratios are judged against: the higher issuances/s of the two measurements.</summary>
    public double FloorIssuancesPerSecond => Math.Max(Floor?.IssuancesPerSecond ?? double.NaN, FloorAgain?.IssuancesPerSecond ?? 0);

    /// <summary>The floor the CPU ratios are judged against: the lower CPU per issuance of the two measurements.</summary>
    public double FloorCpuUsPerIssuance => Math.Min(Floor?.CpuUsPerIssuance ?? double.NaN, FloorAgain?.CpuUsPerIssuance ?? double.PositiveInfinity);

    public List<BrokerRun> Broker { get; } = [];

    /// <summary>The pairs phase (floor, then broker, alternating), in order.</summary>
    public List<FloorBrokerPair> Pairs { get; } = [];

    /// <summary>Open-loop runs (issue 22 item 3): the floor in process (when the floor phase ran), then the broker.</summary>
    public List<OpenLoopRun> OpenLoop { get; } = [];

    public List<EndTaskResult> EndTask { get; } = [];

    public List<RevocationLagResult> Revocation { get; } = [];

    public List<StartupPoint> Startup { get; set; } = [];

    public KillSwitchResult? KillSwitch { get; set; }

    /// <summary>Best measured broker throughput ÷ floor (<see cref="FloorIssuancesPerSecond"/>), per audit policy.</summary>
    public Dictionary<string, double> RatioToFloor => Floor is null
        ? []
        : Broker.ToDictionary(b => b.Audit, b => b.Best.Throughput / FloorIssuancesPerSecond);

    /// <summary>
    /// The same ratio by CPU instead of wall clock: floor CPU per issuance (<see cref="FloorCpuUsPerIssuance"/>) ÷ (broker + Redis CPU per request at the
    /// best level). Robust against other processes on the machine, and blind to the load generator's share of the
    /// cores, which the measured throughput pays for.
    /// </summary>
    public Dictionary<string, double> CpuRatioToFloor => Floor is null
        ? []
        : Broker.ToDictionary(b => b.Audit, b => FloorCpuUsPerIssuance / (b.Best.BrokerCpuUsPerRequest + b.Best.RedisCpuUsPerRequest));

    /// <summary>The floor behind gRPC with the same verified-token cache setting as <paramref name="run"/>, when the grpcfloor phase ran.</summary>
    public BrokerRun? GrpcFloorFor(BrokerRun run) =>
        run.FloorBehindGrpc ? null : Broker.FirstOrDefault(b => b.FloorBehindGrpc && b.VerifiedTokenCache == run.VerifiedTokenCache);
}
