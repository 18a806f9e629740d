namespace JitBroker.Leases.Redis;

/// <summary>
/// Shares one Redis read among concurrent callers without ever handing a caller a value read before it arrived.
/// The first caller sends the read at once; callers arriving while it is on the wire wait for the next read, which
/// is sent as soon as the current one answers — so every caller gets a value read after it asked (a block set
/// before a request started is always seen), and under load one read serves everyone who arrived during one round
/// trip instead of one read each. Failures reach every caller that shared the read.
/// </summary>
internal sealed class CoalescedRead<T>
{
    private readonly Func<Task<T>> _read;
    private readonly Lock _gate = new();
    private bool _onTheWire;
    private TaskCompletionSource<T>? _next;

    public CoalescedRead(Func<Task<T>> read) => _read = read;

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

        _ = SendUntilNobodyWaitsAsync(result);
        return result.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Sends reads back to back while callers keep arriving; stops when a read answers with nobody waiting.</summary>
    private async Task SendUntilNobodyWaitsAsync(TaskCompletionSource<T> current)
    {
        while (true)
        {
            try
            {
                current.TrySetResult(await _read().ConfigureAwait(false));
            }
            catch (Exception ex)
            {
                current.TrySetException(ex);
            }

            lock (_gate)
            {
                if (_next is null)
                {
                    _onTheWire = false;
                    return;
                }

                current = _next;
                _next = null;
            }
        }
    }
}
