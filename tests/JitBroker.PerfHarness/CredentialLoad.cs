using System.Collections.Concurrent;
using System.Diagnostics;
using Google.Protobuf.WellKnownTypes;
using JitBroker.Attestation;
using JitBroker.Protocol.V1;
using JitBroker.Redis;
using Grpc.Core;
using Grpc.Net.Client;

namespace JitBroker.PerfHarness;

/// <summary>One concurrency level of RequestCredential against the broker process.</summary>
internal sealed record LevelResult(
    int Concurrency, double Seconds, int Requests, int Errors, string? FirstError, double Throughput, LatencySummary Latency,
    double BrokerCpuUsPerRequest, double RedisCpuUsPerRequest, double LoadGeneratorCpuUsPerRequest, double BrokerCoresBusy, double OtherProcessesCoresBusy, double LoadAverage)
{
    /// <summary>Redis commands executed per request, by command (harness's own INFO calls excluded).</summary>
    public Dictionary<string, double> RedisCommandsPerRequest { get; init; } = [];

    /// <summary>Bytes the broker allocated per request (its runtime's GC counter, read from /metrics before and after); NaN when not read.</summary>
    public double BrokerAllocatedBytesPerRequest { get; init; } = double.NaN;

    /// <summary>The broker's audit sink writes in the level: mean records per write and mean ms per write (NaN when not read).</summary>
    public double AuditRecordsPerWrite { get; init; } = double.NaN;

    public double AuditWriteMs { get; init; } = double.NaN;

    /// <summary>Thread-pool work items the broker ran per request (NaN when not read).</summary>
    public double BrokerWorkItemsPerRequest { get; init; } = double.NaN;
}

/// <summary>The agent side: the generated Grpc.Net.Client client with a JWT-SVID in the authorization metadata.</summary>
internal sealed class AgentClient(Uri broker) : IDisposable
{
    private readonly GrpcChannel _channel = GrpcChannel.ForAddress(broker, new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true, PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan },
    });

    public Task<RequestCredentialResponse> RequestAsync(string svid, string taskId) =>
        new CredentialBroker.CredentialBrokerClient(_channel).RequestCredentialAsync(NewRequest(taskId), Options(svid)).ResponseAsync;

    public Task<EndTaskResponse> EndTaskAsync(string svid, string taskId) =>
        new CredentialBroker.CredentialBrokerClient(_channel).EndTaskAsync(new EndTaskRequest { TaskId = taskId }, Options(svid)).ResponseAsync;

    public void Dispose() => _channel.Dispose();

    private static RequestCredentialRequest NewRequest(string taskId)
    {
        var intent = new TaskIntent { Action = "tickets.create" };
        intent.Tools.Add("zendesk");
        intent.Resources.Add("tickets/1");
        return new RequestCredentialRequest
        {
            TaskId = taskId, Intent = intent, Target = "https://tickets.internal.example", RequestedTtl = Duration.FromTimeSpan(TimeSpan.FromMinutes(5)),
        };
    }

    private static CallOptions Options(string svid)
    {
        var headers = new Metadata();
        headers.Add("authorization", "Bearer " + svid);
        return new CallOptions(headers, TimeProvider.System.GetUtcNow().UtcDateTime + TimeSpan.FromSeconds(30));
    }
}

/// <summary>
/// Closed-loop load: <c>concurrency</c> workers, each running tasks of <paramref name="requestsPerTask"/> credential
/// requests (default <see cref="DefaultRequestsPerTask"/>). A JWT-SVID is bound to the first task it is used for, so
/// every task gets a fresh SVID, minted before the timed window so the load generator's own signing does not compete
/// with the broker for the cores; with <see cref="SvidPerWorker"/> a worker re-presents one SVID for the whole level,
/// as a SPIRE agent hands out its cached JWT-SVID for minutes. With <paramref name="brokerHttp"/> the broker's
/// allocated bytes are read from its /metrics around each level.
/// </summary>
internal sealed class CredentialLoad(AgentClient client, DevTrustDomain dev, RedisUnderTest? redis = null,
    int requestsPerTask = CredentialLoad.DefaultRequestsPerTask, Uri? brokerHttp = null)
{
    public const int DefaultRequestsPerTask = 16;

    /// <summary>One task, hence one SVID, per worker for the whole level.</summary>
    public const int SvidPerWorker = int.MaxValue;

    public async Task<LevelResult> RunAsync(int concurrency, TimeSpan duration, int brokerPid, int[] redisPids, double expectedPerSecond)
    {
        var svids = MintPool((int)(expectedPerSecond * duration.TotalSeconds * 1.5 / requestsPerTask) + (2 * concurrency));
        var latencies = new List<long>[concurrency];
        var errors = 0;
        string? firstError = null;
        var level = Guid.NewGuid().ToString("N")[..6];
        var window = await CostWindow.OpenAsync(redis, brokerHttp, brokerPid, redisPids).ConfigureAwait(false);
        var watch = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, concurrency).Select(w => Task.Run(async () =>
        {
            var mine = latencies[w] = new List<long>(16384);
            var task = 0;
            while (watch.Elapsed < duration)
            {
                var svid = svids.TryDequeue(out var s) ? s : Mint();
                var taskId = $"perf-{level}-{w}-{task++}";
                for (var r = 0; r < requestsPerTask && watch.Elapsed < duration; r++)
                {
                    var start = Stopwatch.GetTimestamp();
                    try
                    {
                        await client.RequestAsync(svid, taskId).ConfigureAwait(false);
                        mine.Add(Stopwatch.GetTimestamp() - start);
                    }
                    catch (RpcException ex)
                    {
                        Interlocked.Increment(ref errors);
                        Interlocked.CompareExchange(ref firstError, $"{ex.StatusCode}: {ex.Status.Detail}", null);
                    }
                }
            }
        })).ToArray();
        await Task.WhenAll(workers).ConfigureAwait(false);
        var seconds = watch.Elapsed.TotalSeconds;
        var all = latencies.SelectMany(l => l).ToArray();
        var c = await window.CloseAsync(all.Length, seconds).ConfigureAwait(false);
        return new LevelResult(concurrency, seconds, all.Length, errors, firstError, all.Length / seconds, LatencySummary.FromTicks(all),
            c.BrokerCpuUsPerRequest, c.RedisCpuUsPerRequest, c.LoadGeneratorCpuUsPerRequest, c.BrokerCoresBusy, c.OtherProcessesCoresBusy, c.LoadAverage)
        {
            BrokerAllocatedBytesPerRequest = c.BrokerAllocatedBytesPerRequest,
            RedisCommandsPerRequest = c.RedisCommandsPerRequest,
            AuditRecordsPerWrite = c.AuditRecordsPerWrite,
            AuditWriteMs = c.AuditWriteMs,
            BrokerWorkItemsPerRequest = c.BrokerWorkItemsPerRequest,
        };
    }

    /// <summary>
    /// Open loop (issue 22 item 3): RequestCredential arrivals at <paramref name="perSecond"/> for <paramref name="duration"/>,
    /// tasks of <c>requestsPerTask</c> consecutive arrivals sharing one fresh SVID (all minted before the window).
    /// </summary>
    /// <param name="warmup">Sent first at the same rate and not measured (<see cref="HarnessOptions.OpenLoopWarmup"/>).</param>
    /// <param name="timeline">Where to write the level's arrivals and latencies, or null (<see cref="HarnessOptions.OpenLoopTimeline"/>).</param>
    public async Task<OpenLoopLevel> RunOpenLoopAsync(double fractionOfMax, double perSecond, TimeSpan duration, TimeSpan warmup, string? timeline, int brokerPid, int[] redisPids)
    {
        var perTask = Math.Min(requestsPerTask, DefaultRequestsPerTask);
        var svids = MintPool((int)Math.Ceiling(perSecond * duration.TotalSeconds / perTask) + 1).ToArray();
        var level = Guid.NewGuid().ToString("N")[..6];
        if (warmup > TimeSpan.Zero)
        {
            var warm = MintPool((int)Math.Ceiling(perSecond * warmup.TotalSeconds / perTask) + 1).ToArray();
            _ = await OpenLoop.RunAsync(perSecond, warmup, i => client.RequestAsync(warm[i / perTask], $"warm-{level}-{i / perTask}")).ConfigureAwait(false);
        }

        var window = await CostWindow.OpenAsync(redis, brokerHttp, brokerPid, redisPids).ConfigureAwait(false);
        var sample = await OpenLoop.RunAsync(perSecond, duration, i => client.RequestAsync(svids[i / perTask], $"perf-{level}-{i / perTask}"), timeline).ConfigureAwait(false);
        return new OpenLoopLevel(fractionOfMax, sample, await window.CloseAsync(sample.Completed, sample.Seconds).ConfigureAwait(false));
    }

    public string Mint() => dev.MintSvid(LeaseFactory.AgentId, "jitbroker", TimeSpan.FromMinutes(30));

    private ConcurrentQueue<string> MintPool(int count)
    {
        var pool = new ConcurrentQueue<string>();
        Parallel.For(0, count, _ => pool.Enqueue(Mint()));
        return pool;
    }
}
