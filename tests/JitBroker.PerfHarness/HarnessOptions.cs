using System.Globalization;

namespace JitBroker.PerfHarness;

/// <summary>Command-line settings. Defaults are the documented run (scripts/perf.sh).</summary>
internal sealed class HarnessOptions
{
    /// <summary>The broker every phase measures: scripts/perf.sh passes the one scripts/publish-server.sh publishes, as the Dockerfile does (self-contained, composite ReadyToRun).</summary>
    public required string BrokerDll { get; init; }

    /// <summary>
    /// The plain build (bin/Release, as `dotnet run` starts it): the startup phase measures it beside <see cref="BrokerDll"/>.
    /// Null measures <see cref="BrokerDll"/> only.
    /// </summary>
    public string? PlainBrokerDll { get; init; }

    /// <summary>host:port of a Redis the harness owns: it is flushed between phases.</summary>
    public required string Redis { get; init; }

    /// <summary>Instead of <see cref="Redis"/>: the primaries of a Redis Cluster the harness owns (host:port each).</summary>
    public IReadOnlyList<string> ClusterNodes { get; init; } = [];

    /// <summary>Lease-ledger buckets on a cluster (JitBroker:Redis:Buckets).</summary>
    public int Buckets { get; init; } = 16;

    public string OutputDirectory { get; init; } = "docs/benchmarks";

    public string Label { get; init; } = "perf";

    public TimeSpan LevelDuration { get; init; } = TimeSpan.FromSeconds(8);

    public IReadOnlyList<int> Levels { get; init; } = [1, 8, 32, 128, 256];

    public TimeSpan FloorDuration { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan FloorWarmup { get; init; } = TimeSpan.FromSeconds(3);

    public int LeaseWritesInFlight { get; init; } = 256;

    /// <summary>The pairs phase: how many floor-then-broker pairs (issue 22 item 1 read through the machine's drift).</summary>
    public int Pairs { get; init; } = 5;

    /// <summary>The pairs phase: each floor operation's window and the broker's window.</summary>
    public TimeSpan PairDuration { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary>The pairs phase: the broker's concurrency; 0 takes the broker phase's best level (256 without one).</summary>
    public int PairConcurrency { get; init; }

    /// <summary>
    /// The pairs phase's workload: false (default) is item 1's, every request's SVID verified (cache off, a fresh SVID per
    /// task of 16); true is item 2's, one SVID per worker re-presented with the verified-token cache on.
    /// </summary>
    public bool PairReusedSvids { get; init; }

    public int EndTaskTasks { get; init; } = 1000;

    public int RevocationLeases { get; init; } = 100_000;

    /// <summary>Waves of <see cref="RevocationLeases"/> per broker: the first after start-up (cold), the rest on the warm process.</summary>
    public int RevocationWaves { get; init; } = 2;

    /// <summary>
    /// Revocation settings to measure, "SweepInterval/MaxParallelRevocations[/FsyncPolicy[/BatchSize]]": the defaults (the
    /// sweeper wakes at the next due time; SweepInterval only bounds its idle sleep). "00:00:00.100/256" was the default
    /// before the next-due loop.
    /// </summary>
    public IReadOnlyList<string> SweepConfigs { get; init; } = ["00:00:01/256"];

    public IReadOnlyList<long> StartupLeases { get; init; } = [0, 100_000, 400_000];

    public TimeSpan StartupLoad { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Phases to run: floor, broker, interval, endtask, reuse (one SVID per worker, verified-token cache off then on),
    /// grpcfloor (the floor's operations on the broker's transport, cache off then on: <see cref="GrpcFloorServer"/>),
    /// pairs (floor and broker windows alternating, see <see cref="Pairs"/>), openloop (fixed arrival rates at fractions
    /// of the broker's maximum), revocation, killswitch, startup.
    /// </summary>
    public IReadOnlySet<string> Phases { get; init; } = new HashSet<string>(["floor", "broker", "interval", "endtask", "reuse", "grpcfloor", "pairs", "openloop", "revocation", "killswitch", "startup"]);

    /// <summary>Open-loop arrival rates as fractions of the maximum req/s (issue 22 item 3).</summary>
    public IReadOnlyList<double> OpenLoopFractions { get; init; } = [0.10, 0.25, 0.50, 0.75, 0.90];

    /// <summary>The broker's maximum req/s for the open-loop rates when the broker phase does not run in the same run (0: probe at concurrency 128).</summary>
    public double OpenLoopMax { get; init; }

    /// <summary>
    /// Audit FsyncPolicy of the open-loop broker: Always (default, as the broker phase) or Interval — the second separates
    /// what the audit fsync adds to the tail from the rest of the request path.
    /// </summary>
    public string OpenLoopAudit { get; init; } = "Always";

    /// <summary>
    /// Before each open-loop level's measured window, this long at the same rate, not measured (default none, as every run
    /// before 2026-12-06 was made): separates a level's first seconds from its steady state.
    /// </summary>
    public TimeSpan OpenLoopWarmup { get; init; }

    /// <summary>
    /// With a path prefix, every open-loop level writes <c>PREFIX-RATE.csv</c>: the level's start (Unix seconds) on the first
    /// line, then one line per answered arrival — intended send time in seconds from the start, latency in ms — to see when
    /// in a level the slow answers came.
    /// </summary>
    public string? OpenLoopTimeline { get; init; }

    /// <summary>Pin the broker and the load generator + Redis to separate cores during the openloop phase (<see cref="CorePinning"/>).</summary>
    public bool Pin { get; init; }

    /// <summary>Extra environment for the broker process (NAME=value), e.g. DOTNET_PerfMapEnabled=1 for perf.</summary>
    public IReadOnlyList<string> BrokerEnvironment { get; init; } = [];

    public static HarnessOptions Parse(string[] args)
    {
        string? Get(string name)
        {
            var i = Array.LastIndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        }

        if (!args.Contains("--dedicated-redis"))
        {
            throw new ArgumentException("The harness flushes its Redis between phases: pass --dedicated-redis to confirm the server is the harness's own (scripts/perf.sh starts one).");
        }

        var defaults = new HarnessOptions { BrokerDll = "", Redis = "" };
        return new HarnessOptions
        {
            BrokerDll = Get("--broker-dll") ?? throw new ArgumentException("--broker-dll <path to JitBroker.Server.dll> is required."),
            PlainBrokerDll = Get("--plain-broker-dll"),
            Redis = Get("--redis") ?? (Get("--redis-cluster") is null ? throw new ArgumentException("--redis <host:port> or --redis-cluster <host:port,…> is required.") : ""),
            ClusterNodes = Get("--redis-cluster") is { } c ? c.Split(',', StringSplitOptions.RemoveEmptyEntries) : [],
            Buckets = Get("--buckets") is { } b ? Whole("--buckets", b, min: 1) : defaults.Buckets,
            OutputDirectory = Get("--out") ?? defaults.OutputDirectory,
            Label = Get("--label") ?? defaults.Label,
            LevelDuration = Get("--seconds") is { } s ? Seconds("--seconds", s, min: 0.1) : defaults.LevelDuration,
            Levels = Get("--levels") is { } l ? [.. l.Split(',').Select(v => Whole("--levels", v, min: 1))] : defaults.Levels,
            FloorDuration = Get("--floor-seconds") is { } f ? Seconds("--floor-seconds", f, min: 0.1) : defaults.FloorDuration,
            EndTaskTasks = Get("--endtask-tasks") is { } e ? Whole("--endtask-tasks", e, min: 1) : defaults.EndTaskTasks,
            RevocationLeases = Get("--revocation-leases") is { } r ? Whole("--revocation-leases", r, min: 1) : defaults.RevocationLeases,
            RevocationWaves = Get("--revocation-waves") is { } rw ? Whole("--revocation-waves", rw, min: 1) : defaults.RevocationWaves,
            SweepConfigs = Get("--sweep-configs") is { } w ? w.Split(',') : defaults.SweepConfigs,
            StartupLeases = Get("--startup-leases") is { } u ? [.. u.Split(',').Select(v => (long)Whole("--startup-leases", v, min: 0))] : defaults.StartupLeases,
            BrokerEnvironment = args.Select((a, i) => (a, i)).Where(x => x.a == "--broker-env" && x.i + 1 < args.Length).Select(x => args[x.i + 1]).ToList(),
            OpenLoopFractions = Get("--openloop-fractions") is { } o ? [.. o.Split(',').Select(v => Number("--openloop-fractions", v, min: 0.001, max: 1))] : defaults.OpenLoopFractions,
            OpenLoopAudit = Get("--openloop-audit") is { } oa ? (oa is "Always" or "Interval" ? oa : throw new ArgumentException("--openloop-audit is Always or Interval.")) : defaults.OpenLoopAudit,
            OpenLoopWarmup = Get("--openloop-warmup") is { } ow ? Seconds("--openloop-warmup", ow, min: 0) : TimeSpan.Zero,
            OpenLoopTimeline = Get("--openloop-timeline"),
            OpenLoopMax = Get("--openloop-max") is { } x ? Number("--openloop-max", x, min: 0) : 0,
            Pin = args.Contains("--pin"),
            Pairs = Get("--pairs") is { } pn ? Whole("--pairs", pn, min: 1) : defaults.Pairs,
            PairDuration = Get("--pair-seconds") is { } ps ? Seconds("--pair-seconds", ps, min: 0.1) : defaults.PairDuration,
            PairConcurrency = Get("--pair-concurrency") is { } pc ? Whole("--pair-concurrency", pc, min: 0) : defaults.PairConcurrency,
            PairReusedSvids = Get("--pair-workload") is { } pw
                ? pw switch { "verified" => false, "reused" => true, _ => throw new ArgumentException("--pair-workload is verified or reused.") }
                : defaults.PairReusedSvids,
            Phases = Get("--phases") is { } p ? KnownPhases(p, defaults.Phases) : defaults.Phases,
        };
    }

    // A malformed or out-of-range value stops the harness with the option's name (exit 2), not a FormatException's stack.
    private static int Whole(string option, string value, int min) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= min
            ? n
            : throw new ArgumentException($"{option}: '{value}' is not a whole number ≥ {min}.");

    private static double Number(string option, string value, double min, double max = double.MaxValue) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) && double.IsFinite(x) && x >= min && x <= max
            ? x
            : throw new ArgumentException(FormattableString.Invariant($"{option}: '{value}' is not a number ≥ {min}") + (max < double.MaxValue ? FormattableString.Invariant($" and ≤ {max}.") : "."));

    private static TimeSpan Seconds(string option, string value, double min) => TimeSpan.FromSeconds(Number(option, value, min, max: 86_400));

    // A misspelt phase would otherwise run nothing and write an empty report.
    private static HashSet<string> KnownPhases(string list, IReadOnlySet<string> known)
    {
        var phases = new HashSet<string>(list.Split(',', StringSplitOptions.RemoveEmptyEntries));
        var unknown = phases.Where(p => !known.Contains(p)).ToList();
        return unknown.Count == 0 && phases.Count > 0
            ? phases
            : throw new ArgumentException($"--phases: unknown {string.Join(", ", unknown.DefaultIfEmpty("(none given)"))}; known: {string.Join(",", known)}.");
    }
}
