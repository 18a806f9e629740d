using System.Diagnostics;
using System.Globalization;

namespace JitBroker.PerfHarness;

/// <summary>
/// <c>--pin</c> (issue 22 item 3): the broker process on the upper half of the cores this harness may use, the load
/// generator (this process) and the Redis servers on the lower half — with two cores, broker on CPU 1, harness and
/// Redis on CPU 0. The broker is started under <c>taskset -c</c> (<see cref="BrokerCores"/>), so that the runtime sizes its
/// server GC heaps and thread pool for the cores it really has: moving a running broker (as this class first did)
/// left it with two GC heaps whose threads spin-wait for each other on one core, and it collapsed at half its load
/// (docs/benchmarks.md, 2026-12-04). The harness and Redis are moved with <c>taskset -a -cp</c> (every thread) and put back
/// on all their cores by Dispose.
/// </summary>
internal sealed class CorePinning : IDisposable
{
    private readonly int[] _restorePids;
    private readonly string _all;

    private CorePinning(string description, int[] restorePids, string all)
    {
        Description = description;
        _restorePids = restorePids;
        _all = all;
    }

    /// <summary>Exactly what was pinned, for the results ("nothing pinned" when not).</summary>
    public string Description { get; }

    /// <summary>True when the broker and the load side run on separate cores.</summary>
    public bool Pinned => _restorePids.Length > 0;

    /// <summary>The cores to start the broker on (<c>taskset -c</c>), or null when nothing is to be pinned.</summary>
    public static string? BrokerCores(bool enabled)
    {
        var cores = AllowedCores();
        return enabled && cores.Count >= 2 ? string.Join(',', cores.Skip(cores.Count / 2)) : null;
    }

    /// <summary>Pins the harness and Redis to the lower half; <paramref name="brokerCores"/> is where the broker was started.</summary>
    public static CorePinning Apply(bool enabled, string? brokerCores, int brokerPid, int[] redisPids)
    {
        var cores = AllowedCores();
        var all = string.Join(',', cores);
        if (!enabled)
        {
            return new CorePinning("nothing pinned (--pin not given)", [], all);
        }

        if (cores.Count < 2 || brokerCores is null)
        {
            return new CorePinning($"nothing pinned (one core allowed: {all})", [], all);
        }

        var loadSide = string.Join(',', cores.Take(cores.Count / 2));
        var self = Environment.ProcessId;
        TaskSet(loadSide, self);
        foreach (var pid in redisPids)
        {
            TaskSet(loadSide, pid);
        }

        return new CorePinning(
            $"broker (pid {brokerPid}) started on CPU {brokerCores} (taskset -c, so its runtime sees one core); load generator = harness (pid {self}) and redis-server (pid {string.Join(", ", redisPids)}) on CPU {loadSide} (taskset -a -cp); openloop phase only",
            [self, .. redisPids], all);
    }

    public void Dispose()
    {
        foreach (var pid in _restorePids)
        {
            TaskSet(_all, pid);
        }
    }

    /// <summary>The cores this process may run on (Cpus_allowed_list in /proc/self/status, e.g. "0-1" or "0,2-3").</summary>
    private static List<int> AllowedCores()
    {
        var list = File.ReadLines("/proc/self/status").First(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal))["Cpus_allowed_list:".Length..].Trim();
        var cores = new List<int>();
        foreach (var part in list.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var range = part.Split('-');
            var from = int.Parse(range[0], CultureInfo.InvariantCulture);
            var to = range.Length > 1 ? int.Parse(range[1], CultureInfo.InvariantCulture) : from;
            cores.AddRange(Enumerable.Range(from, to - from + 1));
        }

        return cores;
    }

    private static void TaskSet(string cores, int pid)
    {
        var info = new ProcessStartInfo("taskset") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "-a", "-cp", cores, pid.ToString(CultureInfo.InvariantCulture) })
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("taskset did not start.");
        var error = process.StandardError.ReadToEnd();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            // Fail rather than report a pinning that did not happen.
            throw new InvalidOperationException($"taskset -a -cp {cores} {pid} failed: {error.Trim()}");
        }
    }
}
