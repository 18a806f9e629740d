namespace JitBroker.Wire;

/// <summary>
/// Fires once at an absolute deadline on a <see cref="TimeProvider"/>. Timers cannot wait longer than about
/// 49 days, so a far deadline is reached in hops: each firing re-checks the clock and re-arms if early.
/// </summary>
internal sealed class DeadlineTimer : IDisposable
{
    private static readonly TimeSpan MaxHop = TimeSpan.FromDays(40);

    private readonly TimeProvider _clock;
    private readonly DateTimeOffset _deadline;
    private readonly Action _onExpired;
    private readonly ITimer _timer;

    public DeadlineTimer(TimeProvider clock, DateTimeOffset deadline, Action onExpired)
    {
        _clock = clock;
        _deadline = deadline;
        _onExpired = onExpired;
        _timer = clock.CreateTimer(static state => ((DeadlineTimer)state!).OnTick(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        Arm();
    }

    public void Dispose() => _timer.Dispose();

    private void Arm()
    {
        var remaining = _deadline - _clock.GetUtcNow();
        _timer.Change(remaining <= TimeSpan.Zero ? TimeSpan.Zero : (remaining > MaxHop ? MaxHop : remaining), Timeout.InfiniteTimeSpan);
    }

    private void OnTick()
    {
        if (_clock.GetUtcNow() >= _deadline)
        {
            _onExpired();
        }
        else
        {
            Arm();
        }
    }
}
