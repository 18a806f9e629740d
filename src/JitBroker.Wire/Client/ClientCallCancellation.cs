namespace JitBroker.Wire;

/// <summary>
/// The one token a client call runs on: the caller's tokens plus a local deadline timer, remembering which
/// one fired so the call can report CANCELLED or DEADLINE_EXCEEDED accordingly.
/// </summary>
internal sealed class ClientCallCancellation : IDisposable
{
    private readonly CancellationTokenSource _cts;
    private readonly CancellationToken _callerToken1;
    private readonly CancellationToken _callerToken2;
    private readonly DeadlineTimer? _timer;
    private volatile bool _deadlineExpired;

    public ClientCallCancellation(TimeProvider clock, DateTimeOffset? deadline, CancellationToken callerToken1, CancellationToken callerToken2)
    {
        _callerToken1 = callerToken1;
        _callerToken2 = callerToken2;
        _cts = CancellationTokenSource.CreateLinkedTokenSource(callerToken1, callerToken2);
        if (deadline is { } d)
        {
            _timer = new DeadlineTimer(clock, d, OnDeadline);
        }
    }

    public CancellationToken Token => _cts.Token;

    public bool DeadlineExpired => _deadlineExpired;

    public bool CancelledByCaller => _callerToken1.IsCancellationRequested || _callerToken2.IsCancellationRequested;

    public void Dispose()
    {
        _timer?.Dispose();
        _cts.Dispose();
    }

    private void OnDeadline()
    {
        _deadlineExpired = true;
        try
        {
            _cts.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The call finished while the timer fired; nothing left to cancel.
        }
    }
}
