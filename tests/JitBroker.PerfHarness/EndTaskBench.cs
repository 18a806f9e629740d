using System.Diagnostics;
using JitBroker.Protocol.V1;

namespace JitBroker.PerfHarness;

internal sealed record EndTaskResult(int Tasks, int LeasesPerTask, LatencySummary Latency, LatencySummary IssueTenLatency, int Failures, string? FirstFailure);

/// <summary>
/// EndTask of a task holding ten JWT leases, one task at a time: the ten leases are requested (in parallel, as an
/// agent fanning out to ten tools would), then EndTask is timed. Every answer must list ten revoked leases.
/// </summary>
internal static class EndTaskBench
{
    public const int LeasesPerTask = 10;

    public static async Task<EndTaskResult> RunAsync(AgentClient client, CredentialLoad load, int tasks, int warmup)
    {
        var endTimes = new List<long>(tasks);
        var issueTimes = new List<long>(tasks);
        var failures = 0;
        string? firstFailure = null;
        var run = Guid.NewGuid().ToString("N")[..6];
        var svids = Enumerable.Range(0, tasks + warmup).AsParallel().Select(_ => load.Mint()).ToArray();
        for (var t = 0; t < tasks + warmup; t++)
        {
            var taskId = $"endtask-{run}-{t}";
            var issueStart = Stopwatch.GetTimestamp();
            await Task.WhenAll(Enumerable.Range(0, LeasesPerTask).Select(_ => client.RequestAsync(svids[t], taskId))).ConfigureAwait(false);
            var issued = Stopwatch.GetTimestamp() - issueStart;

            var start = Stopwatch.GetTimestamp();
            var response = await client.EndTaskAsync(svids[t], taskId).ConfigureAwait(false);
            var elapsed = Stopwatch.GetTimestamp() - start;
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

        return new EndTaskResult(tasks, LeasesPerTask, LatencySummary.FromTicks(endTimes), LatencySummary.FromTicks(issueTimes), failures, firstFailure);
    }
}
