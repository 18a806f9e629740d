using JitBroker.Core;

namespace JitBroker.Revocation;

/// <summary>
/// The sweep loop's alarm clock, and this process's <see cref="ILeaseDueSignal"/>. The loop looks at the schedule
/// (<see cref="BeginLook"/>, then the store's next due time), then sleeps until a planned time
/// (<see cref="SleepAsync"/>); a lease stored meanwhile that is due before that time moves the alarm earlier.
/// </summary>
/// <remarks>
/// No signal is lost between the look and the sleep: every signal raised after <see cref="BeginLook"/> is kept, and the
/// sleep starts no later than the earliest of them. A signal raised before <see cref="BeginLook"/> belongs to a write
/// that was stored before the look began, so the look itself sees it. One loop per instance.
/// </remarks>
public sealed class SweepWakeUp : ILeaseDueSignal
{
    private readonly Lock _gate = new();
    private long _earliestSignalled = long.MaxValue; // UTC ticks, the earliest due time signalled since the look began
    private long _alarm = long.MinValue;             // UTC ticks the sleeper wakes at; MinValue while not asleep
    private bool _alarmIsDue;                        // the alarm is a due time (sweep on waking), not the idle bound
    private TaskCompletionSource _alarmMoved = NewMoved();

    public void LeaseDue(DateTimeOffset dueAt)
    {
        var at = dueAt.UtcTicks;
        // Most writes are due after something already signalled (new leases expire in minutes): nothing to do. While the
        // loop sleeps its alarm is never later than the earliest signal, so such a write cannot need an earlier wake-up.
        if (at >= Volatile.Read(ref _earliestSignalled))
        {
            return;
        }

        lock (_gate)
        {
            if (at < _earliestSignalled)
            {
                Volatile.Write(ref _earliestSignalled, at);
            }

            if (at < _alarm)
            {
                _alarm = at;
                _alarmIsDue = true;
                _alarmMoved.TrySetResult();
            }
        }
    }

    /// <summary>Called just before the loop reads the store's next due time: from here on every signal is kept.</summary>
    public void BeginLook()
    {
        lock (_gate)
        {
            Volatile.Write(ref _earliestSignalled, long.MaxValue);
            _alarm = long.MinValue;
        }
    }

    /// <summary>
    /// Sleeps until <paramref name="until"/>, or earlier when a lease is signalled due before then (also when it was
    /// signalled since <see cref="BeginLook"/>). Returns true when it woke for a due time — <paramref name="untilIsDue"/>,
    /// or a signalled one — so the loop sweeps at once; false when it woke at an idle bound (look first).
    /// Times are read on <paramref name="time"/>; the waiting itself is on the system clock (at most until - now).
    /// </summary>
    public async Task<bool> SleepAsync(DateTimeOffset until, bool untilIsDue, TimeProvider time, CancellationToken cancellationToken)
    {
        Task moved;
        lock (_gate)
        {
            _alarm = until.UtcTicks;
            _alarmIsDue = untilIsDue;
            if (_earliestSignalled < _alarm)
            {
                _alarm = _earliestSignalled;
                _alarmIsDue = true;
            }

            _alarmMoved = NewMoved();
            moved = _alarmMoved.Task;
        }

        try
        {
            while (true)
            {
                TimeSpan wait;
                lock (_gate)
                {
                    wait = TimeSpan.FromTicks(_alarm - time.GetUtcNow().UtcTicks);
                    if (wait <= TimeSpan.Zero)
                    {
                        return _alarmIsDue;
                    }

                    if (moved.IsCompleted)
                    {
                        _alarmMoved = NewMoved();
                        moved = _alarmMoved.Task;
                    }
                }

                using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var delay = Task.Delay(WholeMilliseconds(wait), timer.Token);
                await Task.WhenAny(delay, moved).ConfigureAwait(false);
                await timer.CancelAsync().ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
            }
        }
        finally
        {
            lock (_gate)
            {
                _alarm = long.MinValue;
            }
        }
    }

    /// <summary>
    /// <paramref name="wait"/> rounded up to whole milliseconds. <see cref="Task.Delay(TimeSpan, CancellationToken)"/> truncates
    /// to whole milliseconds, and a delay of zero is already complete: the last millisecond before the alarm became a busy loop
    /// (about a thousand turns, each with its own token source, delay and <see cref="Task.WhenAny(Task, Task)"/>, on every
    /// wake-up). Waking up to a millisecond late is far inside what a sweep promises.
    /// </summary>
    internal static TimeSpan WholeMilliseconds(TimeSpan wait) =>
        TimeSpan.FromMilliseconds(Math.Ceiling(wait.Ticks / (double)TimeSpan.TicksPerMillisecond));

    private static TaskCompletionSource NewMoved() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
