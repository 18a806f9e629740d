using System.Globalization;
using JitBroker.LeaseBenchmarks;

// Issue 5's Redis lease-ledger benchmarks: memory per active lease, broker start-up time at 0 and N active leases,
// sweeper revocations per second, and revocation lag (expiry → revoked). Real redis-server processes on loopback,
// the broker as a real process (`dotnet JitBroker.Server.dll`, Redis lease store, embedded profile for the dev
// trust domain). Results are printed as Markdown for docs/benchmarks.md. "layout" (not run by default) measures what
// cheaper key layouts would cost per lease, by rewriting the data in place (LayoutProbe.cs).
//
//   dotnet build tests/JitBroker.LeaseBenchmarks -c Release
//   dotnet run -c Release --no-build --project tests/JitBroker.LeaseBenchmarks -- \
//       [--only memory,startup,layout,sweep,lag] [--memory-leases 1000000] [--startup-runs 3] [--sweep-leases 100000] \
//       [--lag-leases 100000] [--lag-window 10] [--set Revocation:SweepInterval=00:00:00.100 …]
//
// --set passes broker settings (JitBroker:… paths) to the broker processes of the sweep and lag runs; without it
// they run with the shipped defaults (sweep every 1 s, batches of 500, 16 revocations at a time, audit fsync per batch).
var only = (Arg("--only") ?? "memory,startup,sweep,lag").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet();
var overrides = args.Select((a, i) => (a, i)).Where(p => p.a == "--set" && p.i + 1 < args.Length)
    .Select(p => args[p.i + 1].Split('=', 2)).ToDictionary(kv => kv[0], kv => kv[1], StringComparer.Ordinal);
var bench = new LedgerBenchmarks(overrides);

Console.WriteLine($"# Redis lease ledger — {Machine.Describe()}");
Console.WriteLine($"date {TimeProvider.System.GetUtcNow():yyyy-MM-dd HH:mm} UTC; broker settings overrides: {(overrides.Count == 0 ? "none (defaults)" : string.Join(", ", overrides.Select(o => $"{o.Key}={o.Value}")))}");
Console.WriteLine();

if (only.Contains("memory") || only.Contains("startup"))
{
    await bench.MemoryAndStartupAsync(IntArg("--memory-leases", 1_000_000), only.Contains("startup") ? IntArg("--startup-runs", 3) : 0);
}

if (only.Contains("layout"))
{
    await LayoutProbe.RunAsync(IntArg("--memory-leases", 1_000_000));
}

if (only.Contains("sweep"))
{
    await bench.SweepThroughputAsync(IntArg("--sweep-leases", 100_000));
}

if (only.Contains("lag"))
{
    await bench.LagAsync(IntArg("--lag-leases", 100_000), TimeSpan.FromSeconds(IntArg("--lag-window", 10)));
}

return 0;

string? Arg(string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

int IntArg(string name, int fallback) => Arg(name) is { } value ? int.Parse(value, CultureInfo.InvariantCulture) : fallback;
