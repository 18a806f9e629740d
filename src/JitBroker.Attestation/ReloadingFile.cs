namespace JitBroker.Attestation;

/// <summary>
/// A file parsed once and re-parsed when it changes. The change check is a single stat (last-write time and
/// length), done at most once per <see cref="CheckInterval"/> and by one caller at a time; everyone else keeps
/// using the current value meanwhile. A reload that fails keeps the previous value and reports the problem
/// once per change, so a half-written or broken file never locks every workload out.
/// </summary>
internal sealed class ReloadingFile<T>
    where T : class
{
    public static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(5);

    private readonly Func<string, (T? Value, string? Problem)> _load;
    private readonly Action<T, bool> _loaded;
    private readonly Action<string> _reloadFailed;
    private readonly TimeProvider _time;
    private volatile T _current;
    private (DateTime WriteTime, long Length) _stamp;
    private long _lastCheck;
    private int _checking;

    /// <summary>Loads the file; throws <see cref="InvalidOperationException"/> with <paramref name="describe"/>'s message when it is unusable.</summary>
    public ReloadingFile(string path, Func<string, (T? Value, string? Problem)> load, Func<string, string> describe,
        Action<T, bool> loaded, Action<string> reloadFailed, TimeProvider time)
    {
        Path = path;
        _load = load;
        _loaded = loaded;
        _reloadFailed = reloadFailed;
        _time = time;
        _stamp = Stamp();
        var (value, problem) = load(path);
        _current = value ?? throw new InvalidOperationException(describe(problem ?? "unknown problem"));
        _lastCheck = time.GetTimestamp();
        loaded(value, false);
    }

    public string Path { get; }

    /// <summary>The current value, after a cheap, throttled check for a changed file.</summary>
    public T Current
    {
        get
        {
            if (_time.GetElapsedTime(Interlocked.Read(ref _lastCheck)) >= CheckInterval
                && Interlocked.CompareExchange(ref _checking, 1, 0) == 0)
            {
                try
                {
                    ReloadIfChanged();
                }
                finally
                {
                    Interlocked.Exchange(ref _lastCheck, _time.GetTimestamp());
                    Volatile.Write(ref _checking, 0);
                }
            }

            return _current;
        }
    }

    private void ReloadIfChanged()
    {
        var stamp = Stamp();
        if (stamp == _stamp)
        {
            return;
        }

        // The stamp advances either way, so a broken file is reported once per change; the next write changes it again.
        _stamp = stamp;
        var (value, problem) = _load(Path);
        if (value is null)
        {
            _reloadFailed(problem ?? "unknown problem");
            return;
        }

        _current = value;
        _loaded(value, true);
    }

    private (DateTime, long) Stamp()
    {
        var info = new FileInfo(Path);
        return info.Exists ? (info.LastWriteTimeUtc, info.Length) : (DateTime.MinValue, -1);
    }
}
