// The floor behind gRPC (issue 22, item 1): what a broker doing nothing but the floor's three operations would reach
// through the broker's own transport, and what that transport costs with nothing behind it. Two processes, as in
// scripts/perf.sh's broker phase (run.sh starts a redis-server as perf.sh does and runs both):
//   server PORT REDIS DEVDIR KEYDIR floor   Kestrel h2c on 127.0.0.1:PORT, grpc-dotnet, the broker's agent service whose
//                                           RequestCredential does the floor's operations with the floor's components:
//                                           verify the bearer JWT-SVID (JwtSvidAttestor, cache off), sign the task JWT
//                                           (JwtCredentialIssuer), write the lease (RedisLeaseStore.PutAsync), reply
//   server PORT REDIS DEVDIR KEYDIR floor-cached   the same with the verified-token cache on (item 2; the client
//                                           then re-presents one SVID per worker: GRPC_FLOOR_SVID_PER_WORKER=1)
//   server PORT REDIS DEVDIR KEYDIR empty   the same service replying a canned answer of the same size: the transport
//   client PORT DEVDIR C SECONDS PID...     closed loop of C calls in flight as the harness's CredentialLoad sends them
//                                           (same channel options, request, deadline; a fresh dev-domain SVID per task of
//                                           16 calls, minted before the timed window); prints req/s, latency and the CPU
//                                           each listed process (server, redis) and the client spent per call
//   loop DEVDIR KEYDIR THREADS SECONDS [KiB] the floor's verify and sign in a tight loop, timed like the server's
// The floor server reads the thread CPU clock around its verify and sign and prints the means when it stops;
// GRPC_FLOOR_TWICE=1 makes it do both twice per call (crypto-in-server.sh). Not part of the solution or of CI.
// Since the same session, scripts/perf.sh's grpcfloor phase (tests/JitBroker.PerfHarness/GrpcFloorServer.cs) measures
// the floor behind gRPC in every run with the harness's own load; this probe stays for what that phase does not do:
// the transport alone (empty), the thread-clock timing of the crypto and the tight loop beside it.
using System.Diagnostics;
using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using JitBroker.Attestation;
using JitBroker.Core;
using JitBroker.Issuance;
using JitBroker.Leases.Redis;
using JitBroker.Protocol.V1;
using JitBroker.Redis;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging.Abstractions;
using CoreScope = JitBroker.Core.GrantedScope;
using WireScope = JitBroker.Protocol.V1.GrantedScope;

if (args is ["server", var port, var redisEndpoint, var devDir, var keyDir, var mode and ("floor" or "floor-cached" or "empty")])
{
    var builder = WebApplication.CreateSlimBuilder();
    builder.Logging.ClearProviders();
    builder.WebHost.ConfigureKestrel(k =>
    {
        k.AddServerHeader = false;
        k.Listen(System.Net.IPAddress.Loopback, int.Parse(port, CultureInfo.InvariantCulture), o => o.Protocols = HttpProtocols.Http2);
    });
    builder.Services.AddGrpc(o => { o.EnableDetailedErrors = false; o.IgnoreUnknownServices = true; });
    if (mode != "empty")
    {
        var redis = new RedisConnection(new RedisOptions { Endpoint = redisEndpoint, CommandTimeout = TimeSpan.FromSeconds(30) });
        await redis.ConnectAsync();
        var dev = DevTrustDomain.LoadOrCreate(devDir, TimeProvider.System);
        var keys = new FileSigningKeyProvider(new SigningKeyOptions { DataDirectory = keyDir }, NullLogger<FileSigningKeyProvider>.Instance);
        builder.Services.AddSingleton(new FloorOperations(
            new JwtSvidAttestor(new JwtSvidOptions
            {
                Audience = "jitbroker", TrustBundles = { [DevTrustDomain.Name] = dev.BundlePath },
                VerifiedTokenCache = { Enabled = mode == "floor-cached" },
            }, TimeProvider.System, NullLogger<JwtSvidAttestor>.Instance),
            new JwtCredentialIssuer(keys, new JwtIssuerOptions { Issuer = "http://127.0.0.1:8080" }, TimeProvider.System),
            new RedisLeaseStore(redis, "perf-grpc-floor:")));
        var app = builder.Build();
        app.MapGrpcService<FloorBroker>();
        await app.RunAsync();
        Console.WriteLine(ThreadCpu.Summary());
    }
    else
    {
        var app = builder.Build();
        app.MapGrpcService<CannedBroker>();
        await app.RunAsync();
    }

    return 0;
}

if (args.Length >= 5 && args[0] == "client")
{
    var serverPort = int.Parse(args[1], CultureInfo.InvariantCulture);
    var dev = DevTrustDomain.LoadOrCreate(args[2], TimeProvider.System);
    var concurrency = int.Parse(args[3], CultureInfo.InvariantCulture);
    var seconds = double.Parse(args[4], CultureInfo.InvariantCulture);
    var pids = args[5..].Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray();
    using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{serverPort}", new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true, PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan },
    });
    var client = new CredentialBroker.CredentialBrokerClient(channel);
    // Enough SVIDs for every task of the level at 10,000 calls/s, minted before it (the harness does the same).
    var svids = Enumerable.Range(0, (int)Math.Ceiling(10_000 * (seconds + 2) / 16) + concurrency)
        .Select(_ => "Bearer " + dev.MintSvid("spiffe://dev.jitbroker.local/agents/support-bot", "jitbroker", TimeSpan.FromMinutes(30))).ToArray();
    Console.WriteLine($"bearer {svids[0].Length} characters; {svids.Length} SVIDs minted");
    var next = -1;
    await Run(client, svids, () => Interlocked.Increment(ref next), concurrency, 2.0, pids, print: false); // warm-up
    await Run(client, svids, () => Interlocked.Increment(ref next), concurrency, seconds, pids, print: true);
    return 0;
}

if (args is ["loop", var loopDev, var loopKeys, var threadCount, var loopSeconds, ..])
{
    // The floor's verify and sign in a tight loop on THREADS threads, timed with the same thread CPU clock as the server
    // (diagnostic: the in-process floor's way of running them). An optional last argument, KiB, walks that much memory
    // between calls to evict what the crypto left in the caches.
    var dev = DevTrustDomain.LoadOrCreate(loopDev, TimeProvider.System);
    using var keys = new FileSigningKeyProvider(new SigningKeyOptions { DataDirectory = loopKeys }, NullLogger<FileSigningKeyProvider>.Instance);
    var ops = new FloorOperations(new JwtSvidAttestor(new JwtSvidOptions
        {
            Audience = "jitbroker", TrustBundles = { [DevTrustDomain.Name] = dev.BundlePath }, VerifiedTokenCache = { Enabled = false },
        }, TimeProvider.System, NullLogger<JwtSvidAttestor>.Instance),
        new JwtCredentialIssuer(keys, new JwtIssuerOptions { Issuer = "http://127.0.0.1:8080" }, TimeProvider.System), null!);
    var tokens = Enumerable.Range(0, 4096).Select(_ => dev.MintSvid("spiffe://dev.jitbroker.local/agents/support-bot", "jitbroker", TimeSpan.FromMinutes(30))).ToArray();
    var pollute = new byte[(args.Length > 5 ? int.Parse(args[5], CultureInfo.InvariantCulture) : 0) * 1024];
    var until = Stopwatch.StartNew();
    var duration = TimeSpan.FromSeconds(double.Parse(loopSeconds, CultureInfo.InvariantCulture));
    var workers = Enumerable.Range(0, int.Parse(threadCount, CultureInfo.InvariantCulture)).Select(t => new Thread(() =>
    {
        var i = t * 512;
        var sink = 0;
        while (until.Elapsed < duration)
        {
            for (var b = 0; b < pollute.Length; b += 64)
            {
                sink += pollute[b]++;
            }

            var t0 = ThreadCpu.Nanoseconds();
            var agent = ops.Attestor.AttestAsync(new AttestationEvidence(tokens[i++ & 4095])).AsTask().GetAwaiter().GetResult();
            var t1 = ThreadCpu.Nanoseconds();
            ops.Issuer.IssueAsync(new IssueRequest(LeaseIds.New(LeaseIds.PlacementFor(agent.Id, "task-1")), agent, "task-1", FloorBroker.Grant)).AsTask().GetAwaiter().GetResult();
            ThreadCpu.Add(t1 - t0, ThreadCpu.Nanoseconds() - t1);
        }

        GC.KeepAlive(sink);
    })).ToList();
    workers.ForEach(w => w.Start());
    workers.ForEach(w => w.Join());
    Console.WriteLine($"loop, {workers.Count} threads, {pollute.Length / 1024} KiB walked between calls: {ThreadCpu.Summary()}");
    return 0;
}

Console.Error.WriteLine("usage: server PORT REDIS DEVDIR KEYDIR floor|empty | client PORT DEVDIR CONCURRENCY SECONDS PID...");
return 2;

static bool SvidPerWorker() => Environment.GetEnvironmentVariable("GRPC_FLOOR_SVID_PER_WORKER") == "1";

static async Task Run(CredentialBroker.CredentialBrokerClient client, string[] svids, Func<int> nextTask, int concurrency, double seconds,
    int[] pids, bool print)
{
    var latencies = new List<double>[concurrency];
    var errors = 0;
    string? firstError = null;
    var cpu0 = pids.Select(ProcessCpu).ToArray();
    var self0 = Process.GetCurrentProcess().TotalProcessorTime;
    var clock = Stopwatch.StartNew();
    var stopAt = TimeSpan.FromSeconds(seconds);
    var bytes = 0;
    var workers = Enumerable.Range(0, concurrency).Select(async w =>
    {
        await Task.Yield();
        var mine = latencies[w] = new List<double>(8192);
        while (clock.Elapsed < stopAt)
        {
            var task = nextTask();
            // GRPC_FLOOR_SVID_PER_WORKER=1: each worker re-presents one SVID for the whole level (item 2's workload).
            var headers = new Metadata { { "authorization", svids[(SvidPerWorker() ? w : task) % svids.Length] } };
            for (var i = 0; i < 16 && clock.Elapsed < stopAt; i++)
            {
                var options = new CallOptions(headers, DateTime.UtcNow + TimeSpan.FromSeconds(30));
                var started = Stopwatch.GetTimestamp();
                try
                {
                    var reply = await client.RequestCredentialAsync(NewRequest($"task-{task}"), options).ResponseAsync;
                    mine.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    bytes = reply.CalculateSize();
                }
                catch (RpcException e)
                {
                    Interlocked.Increment(ref errors);
                    firstError ??= e.Status.ToString();
                }
            }
        }
    }).ToArray();
    await Task.WhenAll(workers);
    var elapsed = clock.Elapsed.TotalSeconds;
    var cpu = pids.Select((p, i) => ProcessCpu(p) - cpu0[i]).ToArray();
    var self = (Process.GetCurrentProcess().TotalProcessorTime - self0).TotalSeconds;
    if (!print)
    {
        return;
    }

    var all = latencies.SelectMany(l => l).Order().ToArray();
    double P(double q) => all.Length == 0 ? double.NaN : all[Math.Min(all.Length - 1, (int)Math.Ceiling(q * all.Length) - 1)];
    var calls = Math.Max(1, all.Length);
    var perPid = string.Join(" ", pids.Select((p, i) => $"pid {p} CPU µs/call={cpu[i] * 1e6 / calls:F1} ({cpu[i] / elapsed:F2} cores)"));
    Console.WriteLine(
        $"c={concurrency} calls={all.Length} errors={errors}{(firstError is null ? "" : $" ({firstError})")} req/s={all.Length / elapsed:F0} " +
        $"p50={P(0.5):F2} p99={P(0.99):F2} ms reply {bytes} bytes; {perPid}; client CPU µs/call={self * 1e6 / calls:F1} ({self / elapsed:F2} cores)");
}

// utime + stime of a process in seconds (clock ticks of 1/100 s).
static double ProcessCpu(int pid)
{
    var stat = File.ReadAllText($"/proc/{pid}/stat");
    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
}

static RequestCredentialRequest NewRequest(string taskId)
{
    var intent = new JitBroker.Protocol.V1.TaskIntent { Action = "tickets.create" };
    intent.Tools.Add("zendesk");
    intent.Resources.Add("tickets/1");
    return new RequestCredentialRequest
    {
        TaskId = taskId, Intent = intent, Target = "https://tickets.internal.example", RequestedTtl = Duration.FromTimeSpan(TimeSpan.FromMinutes(5)),
    };
}

/// <summary>The floor's components, built once.</summary>
internal sealed record FloorOperations(JwtSvidAttestor Attestor, JwtCredentialIssuer Issuer, RedisLeaseStore Store);

/// <summary>The broker's agent service doing the floor's three operations and nothing else (no policy, replay, quota or audit).</summary>
internal sealed class FloorBroker(FloorOperations floor) : CredentialBroker.CredentialBrokerBase
{
    internal static readonly Grant Grant = new("jwt", new CoreScope("https://tickets.internal.example", "tickets.create", ["zendesk"], ["tickets/1"]),
        TimeSpan.FromMinutes(5), new Dictionary<string, string>());

    /// <summary>GRPC_FLOOR_TWICE=1: verify and sign a second time right after the first, to time them warm (diagnostic only).</summary>
    private static readonly bool Twice = Environment.GetEnvironmentVariable("GRPC_FLOOR_TWICE") == "1";

    public override async Task<RequestCredentialResponse> RequestCredential(RequestCredentialRequest request, ServerCallContext context)
    {
        var bearer = context.RequestHeaders.GetValue("authorization") ?? throw new RpcException(new Status(StatusCode.Unauthenticated, "no bearer"));
        // Both complete without waiting (no cache, no I/O), so the thread's CPU clock around each is that operation's CPU.
        var t0 = ThreadCpu.Nanoseconds();
        var agent = await floor.Attestor.AttestAsync(new AttestationEvidence(bearer["Bearer ".Length..]));
        var t1 = ThreadCpu.Nanoseconds();
        var leaseId = LeaseIds.New(LeaseIds.PlacementFor(agent.Id, request.TaskId));
        var credential = await floor.Issuer.IssueAsync(new IssueRequest(leaseId, agent, request.TaskId, Grant));
        var t2 = ThreadCpu.Nanoseconds();
        ThreadCpu.Add(t1 - t0, t2 - t1);
        if (Twice)
        {
            // The same two operations again at once, on a thread whose caches they have just warmed.
            await floor.Attestor.AttestAsync(new AttestationEvidence(bearer["Bearer ".Length..]));
            var t3 = ThreadCpu.Nanoseconds();
            await floor.Issuer.IssueAsync(new IssueRequest(LeaseIds.New(LeaseIds.PlacementFor(agent.Id, request.TaskId)), agent, request.TaskId, Grant));
            ThreadCpu.AddAgain(t3 - t2, ThreadCpu.Nanoseconds() - t3);
        }
        await floor.Store.PutAsync(new Lease
        {
            LeaseId = leaseId, TaskId = request.TaskId, AgentId = agent.Id, IssuerKind = "jwt", BackendHandle = credential.BackendHandle,
            Scope = Grant.Scope, IssuedAt = credential.IssuedAt, ExpiresAt = credential.ExpiresAt, DueAt = credential.ExpiresAt,
            RuleIds = ["support-bot-tickets"], CredentialFingerprint = credential.Fingerprint, AgentFacts = agent.Facts,
        }, context.CancellationToken);
        return Reply(leaseId, credential.Secret, credential.ExpiresAt);
    }

    internal static RequestCredentialResponse Reply(string leaseId, string token, DateTimeOffset expiresAt)
    {
        var scope = new WireScope { Audience = "https://tickets.internal.example", Action = "tickets.create" };
        scope.Tools.Add("zendesk");
        scope.Resources.Add("tickets/1");
        var reply = new RequestCredentialResponse
        {
            LeaseId = leaseId, Credential = new Credential { Kind = "jwt", Token = token }, Scope = scope,
            GrantedTtl = Duration.FromTimeSpan(TimeSpan.FromMinutes(5)), ExpiresAt = Timestamp.FromDateTimeOffset(expiresAt),
        };
        reply.RuleIds.Add("support-bot-tickets");
        return reply;
    }
}

/// <summary>The same service with nothing behind it: one reply of the floor server's size, built once.</summary>
internal sealed class CannedBroker : CredentialBroker.CredentialBrokerBase
{
    // A task JWT from the floor server is 700-odd characters (run.sh prints the floor reply's size to compare).
    private static readonly RequestCredentialResponse Canned =
        FloorBroker.Reply(LeaseIds.New(), new string('t', 740), DateTimeOffset.UtcNow.AddMinutes(5));

    public override Task<RequestCredentialResponse> RequestCredential(RequestCredentialRequest request, ServerCallContext context) =>
        context.RequestHeaders.GetValue("authorization") is { Length: > 7 }
            ? Task.FromResult(Canned)
            : throw new RpcException(new Status(StatusCode.Unauthenticated, "no bearer"));
}

/// <summary>CPU a thread spent in the server's verify and sign (CLOCK_THREAD_CPUTIME_ID), summed over the server's life.</summary>
internal static partial class ThreadCpu
{
    private static long _verifyNs, _signNs, _calls, _verifyAgainNs, _signAgainNs, _again;

    public static void AddAgain(long verifyNs, long signNs)
    {
        Interlocked.Add(ref _verifyAgainNs, verifyNs);
        Interlocked.Add(ref _signAgainNs, signNs);
        Interlocked.Increment(ref _again);
    }

    public static void Add(long verifyNs, long signNs)
    {
        Interlocked.Add(ref _verifyNs, verifyNs);
        Interlocked.Add(ref _signNs, signNs);
        Interlocked.Increment(ref _calls);
    }

    public static string Summary() => _calls == 0 ? "no calls" :
        $"server thread CPU per call over {_calls} calls (warm-up included): verify {_verifyNs / 1e3 / _calls:F1} µs, " +
        $"lease id + sign {_signNs / 1e3 / _calls:F1} µs" +
        (_again == 0 ? "" : $"; the second time, right after: verify {_verifyAgainNs / 1e3 / _again:F1} µs, lease id + sign {_signAgainNs / 1e3 / _again:F1} µs");

    public static long Nanoseconds()
    {
        clock_gettime(3 /* CLOCK_THREAD_CPUTIME_ID */, out var ts);
        return (ts.Seconds * 1_000_000_000) + ts.Nanoseconds;
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int clock_gettime(int clock, out Timespec ts);

    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
