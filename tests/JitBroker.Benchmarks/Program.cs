using System.Diagnostics;
using System.Globalization;
using JitBroker.Attestation;
using JitBroker.Cli;
using JitBroker.Server;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

// RequestCredential throughput and latency over the real gRPC path (our HttpClient-based client → h2c →
// Kestrel → attest → policy → ES256 mint → in-memory lease), at several concurrency levels.
//
//   dotnet run -c Release --project tests/JitBroker.Benchmarks -- [--seconds 5] [--levels 1,8,32,64]
//
// The broker runs in this process, so load generator and broker share the machine's cores: the numbers
// are for the whole system on one box, which is the honest figure on a 2-core machine.
var seconds = ArgValue("--seconds", 5);
var levels = (ArgString("--levels") ?? "1,8,32,64").Split(',').Select(int.Parse).ToArray();

var dataDirectory = Directory.CreateTempSubdirectory("jitbroker-bench-").FullName;
var app = BrokerHost.Build([], config => config.AddInMemoryCollection(new Dictionary<string, string?>
{
    ["JitBroker:DataDirectory"] = dataDirectory,
    ["JitBroker:Listen:Grpc"] = "127.0.0.1:0",
    ["JitBroker:Listen:Http"] = "127.0.0.1:0",
    ["Logging:LogLevel:Default"] = "Warning",
    ["Logging:LogLevel:JitBroker"] = "Warning",
}));
await app.StartAsync();
var endpoints = app.Services.GetRequiredService<BoundEndpoints>();
var dev = DevTrustDomain.LoadOrCreate(Path.Combine(dataDirectory, "dev-trust-domain"), TimeProvider.System);
using var client = new BrokerClient(endpoints.GrpcUri);

Console.WriteLine($"# RequestCredential over gRPC — {Environment.ProcessorCount} cores, {TimeProvider.System.GetUtcNow():yyyy-MM-dd HH:mm} UTC, .NET {Environment.Version}");
Console.WriteLine($"warm-up…");
await RunLevel(8, TimeSpan.FromSeconds(2));

Console.WriteLine();
Console.WriteLine("| concurrency | requests | throughput (req/s) | p50 (ms) | p99 (ms) | errors |");
Console.WriteLine("|---:|---:|---:|---:|---:|---:|");
foreach (var level in levels)
{
    var r = await RunLevel(level, TimeSpan.FromSeconds(seconds));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {level} | {r.Count} | {r.Throughput:0} | {r.P50:0.00} | {r.P99:0.00} | {r.Errors} |"));
}

await app.StopAsync();
await app.DisposeAsync();
Directory.Delete(dataDirectory, recursive: true);
return 0;

async Task<(int Count, double Throughput, double P50, double P99, int Errors)> RunLevel(int concurrency, TimeSpan duration)
{
    var latencies = new List<double>[concurrency];
    var errors = 0;
    var total = Stopwatch.StartNew();
    var workers = Enumerable.Range(0, concurrency).Select(async w =>
    {
        var mine = latencies[w] = new List<double>(4096);
        // One task and one JWT-SVID per worker, a new lease per call: a token is bound to the first task it is used for.
        var svid = dev.MintSvid("spiffe://dev.jitbroker.local/agents/support-bot", "jitbroker", TimeSpan.FromMinutes(60));
        while (total.Elapsed < duration)
        {
            var request = BrokerClient.NewRequest($"bench-{concurrency}-{w}", "tickets.create",
                "https://tickets.internal.example", ["zendesk"], ["tickets/1"], ttl: TimeSpan.FromMinutes(5));
            var start = Stopwatch.GetTimestamp();
            try
            {
                await client.RequestCredentialAsync(svid, request);
                mine.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
            catch (Exception)
            {
                Interlocked.Increment(ref errors);
            }
        }
    }).ToArray();
    await Task.WhenAll(workers);
    var elapsed = total.Elapsed.TotalSeconds;
    var all = latencies.SelectMany(l => l).Order().ToArray();
    return (all.Length, all.Length / elapsed, Percentile(all, 0.50), Percentile(all, 0.99), errors);
}

static double Percentile(double[] sorted, double p) =>
    sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

int ArgValue(string name, int fallback) => ArgString(name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;

string? ArgString(string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}
