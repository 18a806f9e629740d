using System.Diagnostics;
using JitBroker.Revocation;
using NUnit.Framework;

namespace JitBroker.Leases.Tests.Revocation;

/// <summary>The sweep loop's alarm: signals between the look and the sleep are never lost; later ones never wake it.</summary>
[TestFixture]
[CancelAfter(20_000)]
public sealed class SweepWakeUpTests
{
    private static readonly TimeProvider Clock = TimeProvider.System;

    [Test]
    public async Task A_due_signal_raised_after_the_look_began_wakes_the_sleep_at_once(CancellationToken token)
    {
        var wakeUp = new SweepWakeUp();
        wakeUp.BeginLook();
        wakeUp.LeaseDue(Clock.GetUtcNow() - TimeSpan.FromMilliseconds(1)); // stored while the loop was reading the schedule

        var slept = Stopwatch.StartNew();
        var dueWake = await wakeUp.SleepAsync(Clock.GetUtcNow() + TimeSpan.FromSeconds(10), untilIsDue: false, Clock, token);

        Assert.That(dueWake, Is.True, "woke for a due lease: sweep");
        Assert.That(slept.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)));
    }

    [Test]
    public async Task A_signal_during_the_sleep_moves_the_alarm_to_its_due_time(CancellationToken token)
    {
        var wakeUp = new SweepWakeUp();
        wakeUp.BeginLook();
        var slept = Stopwatch.StartNew();
        var sleeping = wakeUp.SleepAsync(Clock.GetUtcNow() + TimeSpan.FromSeconds(10), untilIsDue: false, Clock, token);
        await Task.Delay(TimeSpan.FromMilliseconds(100), token);
        var dueAt = Clock.GetUtcNow() + TimeSpan.FromMilliseconds(300);

        wakeUp.LeaseDue(dueAt);
        var dueWake = await sleeping;

        Assert.That(dueWake, Is.True);
        Assert.That(Clock.GetUtcNow(), Is.GreaterThanOrEqualTo(dueAt), "not before the lease is due");
        Assert.That(slept.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)), "long before the 10 s alarm");
    }

    [Test]
    public async Task A_signal_due_after_the_alarm_leaves_it_alone(CancellationToken token)
    {
        var wakeUp = new SweepWakeUp();
        wakeUp.BeginLook();
        var until = Clock.GetUtcNow() + TimeSpan.FromMilliseconds(300);
        var sleeping = wakeUp.SleepAsync(until, untilIsDue: false, Clock, token);

        wakeUp.LeaseDue(until + TimeSpan.FromMinutes(5));
        var dueWake = await sleeping;

        Assert.That(dueWake, Is.False, "woke at the idle bound: look first");
        Assert.That(Clock.GetUtcNow(), Is.GreaterThanOrEqualTo(until));
    }

    [Test]
    public async Task A_signal_raised_before_the_look_is_left_to_the_look(CancellationToken token)
    {
        // Its write was stored before the look began, so the store's next due time already includes it.
        var wakeUp = new SweepWakeUp();
        wakeUp.LeaseDue(Clock.GetUtcNow());
        wakeUp.BeginLook();
        var until = Clock.GetUtcNow() + TimeSpan.FromMilliseconds(200);

        var dueWake = await wakeUp.SleepAsync(until, untilIsDue: true, Clock, token);

        Assert.That(dueWake, Is.True, "woke at the due time it was given");
        Assert.That(Clock.GetUtcNow(), Is.GreaterThanOrEqualTo(until), "not woken early by the stale signal");
    }

    [Test]
    public async Task Cancelling_ends_the_sleep_at_once(CancellationToken token)
    {
        var wakeUp = new SweepWakeUp();
        wakeUp.BeginLook();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(token);
        var sleeping = wakeUp.SleepAsync(Clock.GetUtcNow() + TimeSpan.FromMinutes(1), untilIsDue: false, Clock, stop.Token);
        var stopping = Stopwatch.StartNew();

        await stop.CancelAsync();

        Assert.CatchAsync<OperationCanceledException>(async () => await sleeping);
        Assert.That(stopping.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)));
    }

    [Test]
    public async Task The_last_millisecond_before_the_alarm_is_waited_not_spun(CancellationToken token)
    {
        // A clock that never moves, half a millisecond before the alarm: every turn of the sleep's loop reads it once. Handed
        // to Task.Delay as is, the sub-millisecond wait was truncated to 0 ms (already complete), so every await completed at
        // once and SleepAsync never even returned to this test until its token was cancelled (the fixture's 20 s); waited in
        // whole milliseconds, the loop turns about once a millisecond.
        var clock = new FrozenClock(DateTimeOffset.UnixEpoch.AddDays(20_000));
        var wakeUp = new SweepWakeUp();
        wakeUp.BeginLook();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(token);
        var sleeping = wakeUp.SleepAsync(clock.Now + TimeSpan.FromTicks(5_000), untilIsDue: true, clock, stop.Token);

        await Task.Delay(TimeSpan.FromMilliseconds(200), token);
        await stop.CancelAsync();

        Assert.CatchAsync<OperationCanceledException>(async () => await sleeping);
        Assert.That(clock.Reads, Is.InRange(1, 400), "one look at the clock per turn, at most about one turn per millisecond");
    }

    [TestCase(0.0001, 1)]
    [TestCase(0.9999, 1)]
    [TestCase(1.0, 1)]
    [TestCase(1.0001, 2)]
    [TestCase(999.5, 1000)]
    public void A_wait_is_rounded_up_to_whole_milliseconds(double milliseconds, int expected) =>
        Assert.That(SweepWakeUp.WholeMilliseconds(TimeSpan.FromTicks((long)Math.Round(milliseconds * TimeSpan.TicksPerMillisecond))),
            Is.EqualTo(TimeSpan.FromMilliseconds(expected)));

    private sealed class FrozenClock(DateTimeOffset now) : TimeProvider
    {
        private int _reads;

        public DateTimeOffset Now { get; } = now;

        public int Reads => Volatile.Read(ref _reads);

        public override DateTimeOffset GetUtcNow()
        {
            Interlocked.Increment(ref _reads);
            return Now;
        }
    }
}
