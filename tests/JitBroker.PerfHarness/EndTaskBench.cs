using System.Diagnostics;
using JitBroker.Protocol.V1;
using JitBroker.Redis;

namespace JitBroker.PerfHarness;

internal sealed record EndTaskResult(string Audit, int Tasks, int LeasesPerTask, LatencySummary Latency, LatencySummary IssueTenLatency, int Failures, string? FirstFailure)
{
    /// <summary>Redis commands one EndTask caused (sampled on the last untimed task; commands inside scripts included).</summary>
    public Dictionary<string, double> RedisCommandsPerEndTask { get; init; } = [];

    /// <summary>
    /// The broker's audit sink writes (batches; one fsync each under Always) and records per EndTask, from its
    /// <c>jitbroker.audit.*</c> counters around <see cref="EndTaskBench.AuditSamples"/> untimed tasks; NaN when not available.
    /// </summary>
    public double AuditWritesPerEndTask { get; init; } = double.NaN;

    public double AuditRecordsPerEndTask { get; init; } = double.NaN;
}

/// <summary>
/// EndTask of a task holding ten JWT leases, one task at a time: the ten leases are requested (in parallel, as an
/// agent fanning out to ten tools would), then EndTask is timed. Every answer must list ten revoked leases.
/// </summary>
internal static class EndTaskBench
{
    public const int LeasesPerTask = 10;

    /// <summary>Untimed tasks after the timed ones whose audit writes are counted, one EndTask at a time.</summary>
    public const int AuditSamples = 10;

    // The Prometheus exporter may answer a scrape from a cache (300 ms by default): wait past it around each sampled EndTask.
    private static readonly TimeSpan ScrapeCache = TimeSpan.FromMilliseconds(400);

    public static async Task<EndTaskResult> RunAsync(AgentClient client, CredentialLoad load, IRedisConnection redis, Uri? brokerHttp, string audit, int tasks,
        int warmup)
    {
        var endTimes = new List<long>(tasks);
        var issueTimes = new List<long>(tasks);
        var failures = 0;
        var commands = new Dictionary<string, double>();
        string? firstFailure = null;
        var run = Guid.NewGuid().ToString("N")[..6];
        var svids = Enumerable.Range(0, tasks + warmup).AsParallel().Select(_ => load.Mint()).ToArray();
        for (var t = 0; t < tasks + warmup; t++)
        {
            var taskId = $"endtask-{run}-{t}";
            var issueStart = Stopwatch.GetTimestamp();
            await Task.WhenAll(Enumerable.Range(0, LeasesPerTask).Select(_ => client.RequestAsync(svids[t], taskId))).ConfigureAwait(false);
            var issued = Stopwatch.GetTimestamp() - issueStart;

            // Sampled on the last untimed task: the first ones also load the Lua scripts (NOSCRIPT, then EVAL).
            var before = t == warmup - 1 ? await RedisAdmin.CommandCallsAsync(redis).ConfigureAwait(false) : null;
            var start = Stopwatch.GetTimestamp();
            var response = await client.EndTaskAsync(svids[t], taskId).ConfigureAwait(false);
            var elapsed = Stopwatch.GetTimestamp() - start;
            if (before is not null)
            {
                var after = await RedisAdmin.CommandCallsAsync(redis).ConfigureAwait(false);
                commands = RedisAdmin.CommandsPer(before, after, 1, digits: 0);
            }
            var revoked = response.Leases.Count(l => l.Outcome == LeaseOutcome.Types.Outcome.Revoked);
            if (revoked != LeasesPerTask)
            {
                failures++;
                firstFailure ??= $"task {taskId}: {revoked} of {response.Leases.Count} leases revoked";
            }

            if (t >= warmup)
            {
                endTimes.Add(elapsed);
                issueTimes.Add(issued);
            }
        }

        var (writes, records) = await AuditPerEndTaskAsync(client, load, brokerHttp, run).ConfigureAwait(false);
        return new EndTaskResult(audit, tasks, LeasesPerTask, LatencySummary.FromTicks(endTimes), LatencySummary.FromTicks(issueTimes), failures, firstFailure)
        {
            RedisCommandsPerEndTask = commands,
            AuditWritesPerEndTask = writes,
            AuditRecordsPerEndTask = records,
        };
    }

    private static async Task<(double Writes, double Records)> AuditPerEndTaskAsync(AgentClient client, CredentialLoad load, Uri? brokerHttp, string run)
    {
        var (writes, records) = (0.0, 0.0);
        for (var t = 0; t < AuditSamples; t++)
        {
            var (svid, taskId) = (load.Mint(), $"endtask-{run}-audit-{t}");
            await Task.WhenAll(Enumerable.Range(0, LeasesPerTask).Select(_ => client.RequestAsync(svid, taskId))).ConfigureAwait(false);
            await Task.Delay(ScrapeCache).ConfigureAwait(false);
            var before = await BrokerCounters.AuditAsync(brokerHttp).ConfigureAwait(false);
            await client.EndTaskAsync(svid, taskId).ConfigureAwait(false);
            await Task.Delay(ScrapeCache).ConfigureAwait(false);
            var after = await BrokerCounters.AuditAsync(brokerHttp).ConfigureAwait(false);
            writes += after.Writes - before.Writes;
            records += after.Records - before.Records;
        }

        return (writes / AuditSamples, records / AuditSamples);
    }
}
