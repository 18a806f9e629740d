namespace JitBroker.PerfHarness;

/// <summary>What a window of requests cost the machine, per request: CPU of each process, broker allocations, Redis commands.</summary>
internal sealed record RequestCosts(
    double BrokerCpuUsPerRequest, double RedisCpuUsPerRequest, double LoadGeneratorCpuUsPerRequest, double BrokerCoresBusy,
    double OtherProcessesCoresBusy, double LoadAverage, double BrokerAllocatedBytesPerRequest, Dictionary<string, double> RedisCommandsPerRequest)
{
    /// <summary>Broker GC collections in the window (all generations) and the time they paused it; NaN without the broker's metrics.</summary>
    public double BrokerGcCollections { get; init; } = double.NaN;

    public double BrokerGcPauseMs { get; init; } = double.NaN;

    /// <summary>Thread-pool work items the broker ran per request (hops between threads; NaN without its metrics).</summary>
    public double BrokerWorkItemsPerRequest { get; init; } = double.NaN;

    /// <summary>Forks of the Redis servers in the window (AOF rewrites, snapshots): each copies page tables and competes for the cores.</summary>
    public long RedisForks { get; init; }

    /// <summary>Audit sink writes in the window: mean records per write and mean milliseconds per write (stream + file + fsync).</summary>
    public double AuditRecordsPerWrite { get; init; } = double.NaN;

    public double AuditWriteMs { get; init; } = double.NaN;
}

/// <summary>
/// Opens a measurement window over the broker process (0: none), the Redis servers and this process, and closes it
/// with the number of requests it served; shared by the closed-loop levels and the open-loop rates.
/// </summary>
internal sealed class CostWindow
{
    private readonly RedisUnderTest? _redis;
    private readonly Uri? _brokerHttp;
    private readonly Dictionary<string, long> _commands0;
    private readonly double _allocated0;
    private readonly (double Collections, double PauseSeconds, double WorkItems) _gc0;
    private readonly long _forks0;
    private readonly (double Writes, double Records, double Seconds) _audit0;
    private readonly CpuWindow _cpu;

    private CostWindow(RedisUnderTest? redis, Uri? brokerHttp, Dictionary<string, long> commands0, double allocated0,
        (double, double, double) gc0, long forks0, (double, double, double) audit0, CpuWindow cpu)
    {
        (_redis, _brokerHttp, _commands0, _allocated0, _gc0, _forks0, _audit0, _cpu) = (redis, brokerHttp, commands0, allocated0, gc0, forks0, audit0, cpu);
    }

    public static async Task<CostWindow> OpenAsync(RedisUnderTest? redis, Uri? brokerHttp, int brokerPid, int[] redisPids)
    {
        var commands0 = redis is null ? [] : await redis.CommandCallsAsync().ConfigureAwait(false);
        var allocated0 = await BrokerCounters.AllocatedBytesAsync(brokerHttp).ConfigureAwait(false);
        var gc0 = await BrokerCounters.GcAsync(brokerHttp).ConfigureAwait(false);
        var forks0 = redis is null ? 0 : await redis.ForksAsync().ConfigureAwait(false);
        var audit0 = await BrokerCounters.AuditAsync(brokerHttp).ConfigureAwait(false);
        return new CostWindow(redis, brokerHttp, commands0, allocated0, gc0, forks0, audit0, new CpuWindow(brokerPid, redisPids));
    }

    public async Task<RequestCosts> CloseAsync(int requests, double seconds)
    {
        var (broker, redisCpu, self) = _cpu.Elapsed();
        var others = _cpu.Others();
        var commands1 = _redis is null ? [] : await _redis.CommandCallsAsync().ConfigureAwait(false);
        var allocated1 = await BrokerCounters.AllocatedBytesAsync(_brokerHttp).ConfigureAwait(false);
        var gc1 = await BrokerCounters.GcAsync(_brokerHttp).ConfigureAwait(false);
        var forks1 = _redis is null ? 0 : await _redis.ForksAsync().ConfigureAwait(false);
        var audit1 = await BrokerCounters.AuditAsync(_brokerHttp).ConfigureAwait(false);
        var writes = audit1.Writes - _audit0.Writes;
        var n = Math.Max(1, requests);
        return new RequestCosts(broker.TotalMicroseconds / n, redisCpu.TotalMicroseconds / n, self.TotalMicroseconds / n, broker.TotalSeconds / seconds,
            others.TotalSeconds / seconds, ProcFs.LoadAverage(), (allocated1 - _allocated0) / n,
            RedisAdmin.CommandsPer(_commands0, commands1, n, digits: 2))
        {
            BrokerGcCollections = gc1.Collections - _gc0.Collections,
            BrokerGcPauseMs = (gc1.PauseSeconds - _gc0.PauseSeconds) * 1000,
            BrokerWorkItemsPerRequest = (gc1.WorkItems - _gc0.WorkItems) / n,
            RedisForks = forks1 - _forks0,
            AuditRecordsPerWrite = writes > 0 ? (audit1.Records - _audit0.Records) / writes : double.NaN,
            AuditWriteMs = writes > 0 ? (audit1.Seconds - _audit0.Seconds) * 1000 / writes : double.NaN,
        };
    }
}
