namespace JitBroker.Leases.Redis;

/// <summary>
/// Shares one Redis read among concurrent callers without ever handing a caller a value read before it arrived.
/// The first caller sends the read at once; callers arriving while it is on the wire wait for the next read, which
/// is sent as soon as the current one answers — so every caller gets a value read after it asked (a block set
/// before a request started is always seen), and under load one read serves everyone who arrived during one round
/// trip instead of one read each. Failures reach every caller that shared the read.
/// </summary>
/// <remarks>
/// At most one read is on the wire, so the read in flight and the callers it answers live in fields and its answer is
/// taken by one continuation made once: a read costs its callers' promise and nothing else of ours (no async state
/// machine or delegate per read — with one caller at a time, that is per request). The <c>answer</c> function turns the
/// reply into the value once per read, not once per caller.
/// </remarks>
internal sealed class CoalescedRead<TReply, T>
{
    private readonly Func<ValueTask<TReply>> _read;
    private readonly Func<TReply, T> _answer;
    private readonly Action _onAnswered;
    private readonly Lock _gate = new();

    // _onTheWire, _next: guarded by _gate. _inFlight, _current: written before the read's continuation is registered and
    // read by it (the registration publishes them), then handed on under _gate.
    private bool _onTheWire;
    private TaskCompletionSource<T>? _next;
    private TaskCompletionSource<T>? _current;
    private ValueTask<TReply> _inFlight;

    public CoalescedRead(Func<ValueTask<TReply>> read, Func<TReply, T> answer)
    {
        _read = read;
        _answer = answer;
        _onAnswered = OnAnswered;
    }

    public Task<T> ReadAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        TaskCompletionSource<T> result;
        lock (_gate)
        {
            if (_onTheWire)
            {
                _next ??= new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
                return _next.Task.WaitAsync(cancellationToken);
            }

            _onTheWire = true;
            result = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        Send(result);
        return result.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Sends one read for <paramref name="callers"/>; <see cref="OnAnswered"/> runs when it answers.</summary>
    private void Send(TaskCompletionSource<T> callers)
    {
        ValueTask<TReply> read;
        try
        {
            read = _read();
        }
        catch (Exception ex)
        {
            read = ValueTask.FromException<TReply>(ex);
        }

        _current = callers;
        _inFlight = read;
        // An already-completed read still runs the continuation on the thread pool, never inline: no recursion however
        // many reads answer at once.
        read.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_onAnswered);
    }

    /// <summary>Answers the callers of the read that completed, then sends the next read if anyone arrived meanwhile.</summary>
    private void OnAnswered()
    {
        var read = _inFlight;
        var callers = _current!;
        _inFlight = default; // read once below: the reply may come from a pooled source
        try
        {
            callers.TrySetResult(_answer(read.GetAwaiter().GetResult()));
        }
        catch (Exception ex)
        {
            callers.TrySetException(ex);
        }

        TaskCompletionSource<T> next;
        lock (_gate)
        {
            if (_next is null)
            {
                _onTheWire = false;
                _current = null;
                return;
            }

            next = _next;
            _next = null;
        }

        Send(next);
    }
}
