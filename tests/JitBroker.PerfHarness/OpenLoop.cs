using System.Diagnostics;
using System.Runtime.InteropServices;

namespace JitBroker.PerfHarness;

/// <summary>What an open-loop run at one arrival rate measured (the caller adds the CPU figures).</summary>
internal sealed record OpenLoopSample(
    double OfferedPerSecond, double Seconds, int Sent, int Completed, int Errors, string? FirstError, int Dropped,
    LatencySummary Latency, LatencySummary SendLagMs)
{
    /// <summary>The half second (by intended send time) with the highest p99, to tell a stall from a spread-out tail.</summary>
    public SlowWindow? Worst { get; init; }

    /// <summary>Answered arrivals slower than 10 ms (item 3's p99.9 bound).</summary>
    public int Over10Ms { get; init; }
}

/// <summary>A half-second window of an open-loop run: when it started (s after the first arrival), its p99 and its size.</summary>
internal sealed record SlowWindow(double StartSeconds, double P99Ms, double MaxMs, int Count);

/// <summary>
/// An open-loop load generator (issue 22 item 3): arrivals at a fixed rate, whose times the schedule alone decides,
/// never the previous answer. Each arrival's latency is measured from its <em>intended</em> send time, so a stall
/// of the system (or of this generator) shows in the latency instead of silently thinning the load (no coordinated
/// omission). One thread keeps the schedule: it sleeps until the next arrival is due (at least 100 µs), then sends
/// every arrival due by now, each stamped with its own intended time, so coarse wake-ups still carry any rate. At most
/// <see cref="MaxOutstanding"/> requests are in flight; an arrival beyond that is counted as dropped, not delayed.
/// </summary>
internal static class OpenLoop
{
    public const int MaxOutstanding = 4096;

    /// <param name="send">Starts request number i; must return quickly (the schedule thread calls it), the work itself asynchronous.</param>
    /// <param name="timeline">A file to write when each answered arrival was due and its latency (<see cref="HarnessOptions.OpenLoopTimeline"/>).</param>
    public static async Task<OpenLoopSample> RunAsync(double perSecond, TimeSpan duration, Func<int, Task> send, string? timeline = null)
    {
        var total = (int)Math.Round(perSecond * duration.TotalSeconds);
        var latencies = new long[total];
        var sendLags = new long[total];
        var done = new bool[total];
        var outstanding = 0;
        var errors = 0;
        var dropped = 0;
        string? firstError = null;
        var allDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var pending = 1; // the schedule itself, released when it has sent its last arrival
        var ticksPerArrival = Stopwatch.Frequency / perSecond;

        void Finish()
        {
            if (Interlocked.Decrement(ref pending) == 0)
            {
                allDone.TrySetResult();
            }
        }

        var start = Stopwatch.GetTimestamp();
        var startedAt = TimeProvider.System.GetUtcNow(); // for the timeline only: when the level began, on the wall clock
        var schedule = new Thread(() =>
        {
            var next = 0;
            while (next < total)
            {
                var now = Stopwatch.GetTimestamp();
                var due = Math.Min(total, (int)((now - start) / ticksPerArrival) + 1);
                for (; next < due; next++)
                {
                    var i = next;
                    var intended = start + (long)(i * ticksPerArrival);
                    if (Volatile.Read(ref outstanding) >= MaxOutstanding)
                    {
                        sendLags[i] = -1;
                        Interlocked.Increment(ref dropped);
                        continue;
                    }

                    Interlocked.Increment(ref outstanding);
                    Interlocked.Increment(ref pending);
                    sendLags[i] = Stopwatch.GetTimestamp() - intended;
                    Task call;
                    try
                    {
                        call = send(i);
                    }
                    catch (Exception ex) when (ex is not OutOfMemoryException)
                    {
                        call = Task.FromException(ex);
                    }

                    _ = call.ContinueWith(
                        t =>
                        {
                            if (t.IsCompletedSuccessfully)
                            {
                                latencies[i] = Stopwatch.GetTimestamp() - intended;
                                done[i] = true;
                            }
                            else
                            {
                                Interlocked.Increment(ref errors);
                                Interlocked.CompareExchange(ref firstError, t.Exception?.InnerException?.Message ?? "cancelled", null);
                            }

                            Interlocked.Decrement(ref outstanding);
                            Finish();
                        },
                        CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                }

                if (next < total)
                {
                    // Sleep until the next arrival is due, at least 100 µs: usleep wakes within ~50 µs (timer slack) where
                    // Thread.Sleep(1) takes ~1.1 ms, which would add up to a millisecond of the generator's own lateness
                    // to every latency. Late arrivals go out in the next batch, their lateness counted in their latency.
                    var waitUs = (start + (long)(next * ticksPerArrival) - Stopwatch.GetTimestamp()) * 1_000_000 / Stopwatch.Frequency;
                    _ = Native.usleep((uint)Math.Clamp(waitUs, 100, 100_000));
                }
            }

            Finish();
        })
        { IsBackground = true, Name = "open-loop schedule", Priority = ThreadPriority.AboveNormal };
        schedule.Start();

        // Every request carries a 30 s deadline: the wait ends with the last one, answered or not.
        await allDone.Task.WaitAsync(duration + TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var completed = Enumerable.Range(0, total).Where(i => done[i]).ToArray();
        var sent = total - dropped;
        var perWindow = Math.Max(1, (int)(perSecond / 2));
        // No window at all when nothing was answered (every arrival refused or timed out): the level is still reported.
        var worst = completed.Length == 0 ? default : completed.GroupBy(i => i / perWindow)
            .Select(g => (Start: g.Key * perWindow / perSecond, Latency: LatencySummary.FromTicks(g.Select(i => latencies[i]))))
            .MaxBy(w => w.Latency.P99);
        var tenMs = Stopwatch.Frequency / 100;
        if (timeline is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(timeline))!);
            File.WriteAllLines(timeline, completed.Select(i => FormattableString.Invariant($"{i / perSecond:F4},{latencies[i] * 1000.0 / Stopwatch.Frequency:F3}"))
                .Prepend(FormattableString.Invariant($"{startedAt.ToUnixTimeMilliseconds() / 1000.0:F3},start")));
        }

        return new OpenLoopSample(perSecond, seconds, sent, completed.Length, errors, firstError, dropped,
            LatencySummary.FromTicks(completed.Select(i => latencies[i])),
            LatencySummary.FromTicks(sendLags.Where(l => l >= 0)))
        {
            Worst = worst.Latency is null ? null : new SlowWindow(worst.Start, worst.Latency.P99, worst.Latency.Max, worst.Latency.Count),
            Over10Ms = completed.Count(i => latencies[i] > tenMs),
        };
    }
}

/// <summary>libc's usleep: a sub-millisecond sleep for the schedule thread (the harness runs on Linux only).</summary>
internal static class Native
{
    [DllImport("libc", SetLastError = false)]
    internal static extern int usleep(uint microseconds);
}

/// <summary>One arrival rate of an open-loop run, with what it cost (<see cref="RequestCosts"/>).</summary>
internal sealed record OpenLoopLevel(double FractionOfMax, OpenLoopSample Sample, RequestCosts Costs);

/// <summary>
/// An open-loop run at fractions of a measured maximum: the broker over gRPC, or the floor's issuance in process.
/// <paramref name="MaxSource"/> says where the maximum came from, <paramref name="Pinning"/> what was pinned to which cores.
/// </summary>
internal sealed record OpenLoopRun(string Target, double MaxPerSecond, string MaxSource, string Pinning, List<OpenLoopLevel> Levels)
{
    public const double TargetFraction = 0.5, TargetP99Ms = 5, TargetP999Ms = 10;

    /// <summary>How the load presented SVIDs and whether the broker verified each (the broker's run only).</summary>
    public string? Workload { get; init; }

    /// <summary>Seconds sent at each level's rate before its measured window (<see cref="HarnessOptions.OpenLoopWarmup"/>; 0: none).</summary>
    public double WarmupSeconds { get; init; }

    /// <summary>The level issue 22 item 3 judges: 50 % of the maximum (null when not run).</summary>
    public OpenLoopLevel? TargetLevel => Levels.FirstOrDefault(l => Math.Abs(l.FractionOfMax - TargetFraction) < 1e-9);

    /// <summary>
    /// Item 3's target at 50 % of the maximum: p99 ≤ 5 ms and p99.9 ≤ 10 ms from the intended send times, with no
    /// arrival dropped and no error (a dropped or failed request has no latency, so it cannot count as fast).
    /// </summary>
    public bool? TargetMet => TargetLevel is not { } l ? null
        : l.Sample.Latency.P99 <= TargetP99Ms && l.Sample.Latency.P999 <= TargetP999Ms && l.Sample.Dropped == 0 && l.Sample.Errors == 0;
}
