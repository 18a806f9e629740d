using JitBroker.Core;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace JitBroker.Revocation;

/// <summary>
/// Runs <see cref="RevocationSweeper.SweepOnceAsync"/> when the earliest lease is due — a next-due trigger, not a fixed
/// tick. After each sweep it asks the store for the next due time and sleeps until then, at most
/// <see cref="RevocationOptions.SweepInterval"/> (leases other replicas store are only seen by looking), woken early by
/// <see cref="SweepWakeUp"/> when this process stores something due sooner. Sweeps never overlap on one node; across
/// replicas the store's atomic claims keep them apart.
/// </summary>
/// <remarks>
/// Its own loop, not a Quartz trigger (Quartz still runs the consistency pass): the wake-up time changes after every
/// sweep and with every early signal, and rescheduling a Quartz trigger each time would add a scheduler thread hop and
/// its misfire rules to what is a sleep until a known time. Shutdown cancels the sleep or the running sweep at once;
/// what a sweep claimed but did not finish is taken over when its claims lapse.
/// </remarks>
public sealed partial class RevocationSweepLoop : BackgroundService
{
    /// <summary>
    /// Least time from one sweep's start to the next: under a steady stream of expiries (one due every few µs) the loop
    /// would otherwise sweep back to back a handful of leases at a time; waiting this long lets each sweep take a batch.
    /// </summary>
    public static readonly TimeSpan MinSweepSpacing = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// Least time from a failed sweep's start to the next sweep, doubled per failure in a row from
    /// 2 × <see cref="MinSweepSpacing"/> up to <see cref="RevocationOptions.SweepInterval"/>. Why: a store that answers the
    /// cheap look (next due time) but refuses the claim — Redis out of memory refuses the claim's writes, not the peek —
    /// would otherwise be swept every <see cref="MinSweepSpacing"/>, a claim and a warning a hundred times a second.
    /// Revocation never gives up: the loop keeps trying, at worst once per sweep interval.
    /// </summary>
    public static TimeSpan SpacingAfter(int failuresInARow, TimeSpan sweepInterval) => failuresInARow <= 0
        ? MinSweepSpacing
        : TimeSpan.FromTicks(Math.Min(sweepInterval.Ticks, MinSweepSpacing.Ticks << Math.Min(failuresInARow, 20)));

    private readonly RevocationSweeper _sweeper;
    private readonly IRevocationQueue _queue;
    private readonly SweepWakeUp _wakeUp;
    private readonly RevocationOptions _options;
    private readonly TimeProvider _time;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger<RevocationSweepLoop> _log;

    public RevocationSweepLoop(RevocationSweeper sweeper, IRevocationQueue queue, SweepWakeUp wakeUp, RevocationOptions options, TimeProvider time,
        IHostApplicationLifetime lifetime, ILogger<RevocationSweepLoop> log)
    {
        _sweeper = sweeper;
        _queue = queue;
        _wakeUp = wakeUp;
        _options = options;
        _time = time;
        _lifetime = lifetime;
        _log = log;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Like the rest of the broker's background work, start once the host has started (every store registered and warm).
        await WhenStartedAsync(stoppingToken).ConfigureAwait(false);
        try
        {
            await RunAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: asleep, looking, or a sweep that logged its interruption.
        }
    }

    /// <summary>The loop: sweep when something is due, then look and sleep. Returns only by cancellation.</summary>
    internal async Task RunAsync(CancellationToken cancellationToken)
    {
        var sweep = false; // at start, look first
        var lastSweep = DateTimeOffset.MinValue;
        var failures = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (sweep)
            {
                lastSweep = _time.GetUtcNow();
                failures = await SweepAsync(cancellationToken).ConfigureAwait(false) ? 0 : failures + 1;
            }

            _wakeUp.BeginLook();
            var next = await NextDueAsync(cancellationToken).ConfigureAwait(false);
            var now = _time.GetUtcNow();
            var idleBound = now + _options.SweepInterval;
            if (next is { } due && due <= now)
            {
                // Still (or again) due: another sweep, once the spacing (longer after failed sweeps) has passed.
                var notBefore = lastSweep + SpacingAfter(failures, _options.SweepInterval);
                sweep = notBefore <= now || await _wakeUp.SleepAsync(notBefore, untilIsDue: true, _time, cancellationToken).ConfigureAwait(false);
                continue;
            }

            // Nothing due yet: sleep until the next due time (sweep then) or the idle bound (look again then).
            var dueSoon = next is { } at && at <= idleBound;
            sweep = await _wakeUp.SleepAsync(dueSoon ? next!.Value : idleBound, dueSoon, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>One sweep; false when it failed (a claim refused, or anything unexpected).</summary>
    private async Task<bool> SweepAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _sweeper.SweepOnceAsync(cancellationToken).ConfigureAwait(false);
            return !_sweeper.LastClaimFailed;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            LogSweepInterrupted(_log);
            throw;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // The sweeper already absorbs store and backend failures; anything else must not stop the loop.
            LogSweepFailed(_log, ex);
            return false;
        }
    }

    /// <summary>The store's next due time; null (sleep the idle bound, then look again) when the store cannot say.</summary>
    private async Task<DateTimeOffset?> NextDueAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _queue.NextDueAsync(_time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogLookFailed(_log, ex);
            return null;
        }
    }

    private async Task WhenStartedAsync(CancellationToken cancellationToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var onStarted = _lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        await started.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 3111, EventName = "RevocationSweepInterrupted", Level = LogLevel.Information,
        Message = "Revocation sweep interrupted by shutdown; unfinished claims lapse and are retried")]
    private static partial void LogSweepInterrupted(ILogger logger);

    [LoggerMessage(EventId = 3112, EventName = "RevocationSweepFailed", Level = LogLevel.Error,
        Message = "Revocation sweep failed unexpectedly; the sweep loop carries on")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 3113, EventName = "RevocationNextDueFailed", Level = LogLevel.Warning,
        Message = "Reading the next due time from the lease store failed; the sweeper looks again after its sweep interval")]
    private static partial void LogLookFailed(ILogger logger, Exception exception);
}
