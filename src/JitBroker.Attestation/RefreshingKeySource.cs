using Microsoft.Extensions.Logging;

namespace JitBroker.Attestation;

/// <summary>
/// Keys fetched over HTTP and kept fresh in the background: first fetch at construction, then again after
/// the document's refresh hint (clamped) or the default interval, and sooner after a failure. A failed
/// fetch keeps the last good keys; until a first fetch succeeds there are none and every token of the
/// owner is refused. The request path never fetches, except for the unknown-<c>kid</c> refresh, which is
/// single-flight, rate-limited per source and waited for at most <see cref="KeyRefreshOptions.UnknownKeyWait"/>.
/// </summary>
internal sealed class RefreshingKeySource : IKeySource
{
    private readonly IKeySetFetcher _fetcher;
    private readonly KeyRefreshOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly ITimer _timer;
    #pragma warning disable CA2213 // a fetch in flight may still read its token after Dispose; it has no timer or registrations to release
    private readonly CancellationTokenSource _disposed = new();
    #pragma warning restore CA2213
    private readonly Lock _gate = new();
    private volatile TrustBundle? _current;
    private Task? _inFlight;
    private long? _lastUnknownKeyRefresh;
    private int _fetchCount;

    public RefreshingKeySource(string owner, IKeySetFetcher fetcher, KeyRefreshOptions options, TimeProvider time, ILogger log)
    {
        Owner = owner;
        _fetcher = fetcher;
        _options = options;
        _time = time;
        _log = log;
        _timer = time.CreateTimer(static state => ((RefreshingKeySource)state!).StartRefresh(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        StartRefresh();
    }

    public string Owner { get; }

    public string Location => _fetcher.Location;

    public TrustBundle? Current => _current;

    /// <summary>How many fetches have been started (tests prove the rate limit with it).</summary>
    internal int FetchCount => Volatile.Read(ref _fetchCount);

    /// <summary>The fetch under way, or a completed task (tests await background refreshes with it).</summary>
    internal Task Refreshing
    {
        get
        {
            lock (_gate)
            {
                return _inFlight ?? Task.CompletedTask;
            }
        }
    }

    public async ValueTask<TrustBundle?> RefreshForUnknownKeyAsync(CancellationToken cancellationToken = default)
    {
        Task refresh;
        lock (_gate)
        {
            if (_inFlight is { } running)
            {
                refresh = running; // join it: still one fetch, however many requests ask
            }
            else
            {
                var now = _time.GetTimestamp();
                if (_lastUnknownKeyRefresh is { } last && _time.GetElapsedTime(last, now) < _options.UnknownKeyMinInterval)
                {
                    return _current;
                }

                _lastUnknownKeyRefresh = now;
                AttestationLog.UnknownKeyRefresh(_log, Owner);
                refresh = StartRefreshLocked();
            }
        }

        try
        {
            await refresh.WaitAsync(_options.UnknownKeyWait, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The fetch goes on in the background; this request is answered with what is known now.
        }

        return _current;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed.Cancel();
        }

        _timer.Dispose();
        _fetcher.Dispose();
    }

    private Task StartRefresh()
    {
        lock (_gate)
        {
            return StartRefreshLocked();
        }
    }

    private Task StartRefreshLocked()
    {
        if (_disposed.IsCancellationRequested)
        {
            return Task.CompletedTask;
        }

        if (_inFlight is null)
        {
            Interlocked.Increment(ref _fetchCount);
            _inFlight = Task.Run(RefreshOnceAsync);
        }

        return _inFlight;
    }

    private async Task RefreshOnceAsync()
    {
        TimeSpan? next = null;
        try
        {
            var bundle = await _fetcher.FetchAsync(_disposed.Token).ConfigureAwait(false);
            _current = bundle;
            next = _options.IntervalFor(bundle.RefreshHint);
            AttestationLog.KeySetFetched(_log, Owner, Location, bundle.Keys.Count, bundle.Sequence, next.Value.TotalSeconds);
            AttestationLog.ReportContents(_log, Owner, Location, bundle);
        }
        catch (OperationCanceledException) when (_disposed.IsCancellationRequested)
        {
            // Disposed: no retry.
        }
        catch (Exception e)
        {
            var interval = _options.IntervalFor(_current?.RefreshHint);
            next = _options.RetryInterval < interval ? _options.RetryInterval : interval;
            var problem = e switch
            {
                KeySetFetchException => e.Message,
                TaskCanceledException => "timed out",
                HttpRequestException http => http.HttpRequestError.ToString(),
                _ => e.GetType().Name,
            };
            var consequence = _current is null
                ? "no keys yet: every token of it is refused"
                : "keeping the last good keys";
            AttestationLog.KeySetFetchFailed(_log, e is KeySetFetchException ? null : e, Owner, Location, problem, consequence, next.Value.TotalSeconds);
        }
        finally
        {
            // One critical section: whoever sees no fetch in flight also sees the next one scheduled.
            lock (_gate)
            {
                _inFlight = null;
                if (next is { } due && !_disposed.IsCancellationRequested)
                {
                    _timer.Change(due, Timeout.InfiniteTimeSpan);
                }
            }
        }
    }
}
