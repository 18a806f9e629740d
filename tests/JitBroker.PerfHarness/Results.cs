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
}

internal sealed class HarnessResults
{
    public required string Label { get; init; }

    public required MachineInfo Machine { get; init; }

    public FloorResult? Floor { get; set; }

    public List<BrokerRun> Broker { get; } = [];

    /// <summary>Open-loop runs (issue 22 item 3): the floor in process (when the floor phase ran), then the broker.</summary>
    public List<OpenLoopRun> OpenLoop { get; } = [];

    public List<EndTaskResult> EndTask { get; } = [];

    public List<RevocationLagResult> Revocation { get; } = [];

    public List<StartupPoint> Startup { get; set; } = [];

    public KillSwitchResult? KillSwitch { get; set; }

    /// <summary>Best measured broker throughput ÷ floor, per audit policy.</summary>
    public Dictionary<string, double> RatioToFloor => Floor is null
        ? []
        : Broker.ToDictionary(b => b.Audit, b => b.Best.Throughput / Floor.IssuancesPerSecond);

    /// <summary>
    /// The same ratio by CPU instead of wall clock: floor CPU per issuance ÷ (broker + Redis CPU per request at the
    /// best level). Robust against other processes on the machine, and blind to the load generator's share of the
    /// cores, which the measured throughput pays for.
    /// </summary>
    public Dictionary<string, double> CpuRatioToFloor => Floor is null
        ? []
        : Broker.ToDictionary(b => b.Audit, b => Floor.CpuUsPerIssuance / (b.Best.BrokerCpuUsPerRequest + b.Best.RedisCpuUsPerRequest));
}
