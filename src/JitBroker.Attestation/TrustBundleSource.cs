using Microsoft.Extensions.Logging;

namespace JitBroker.Attestation;

/// <summary>
/// One trust domain's bundle file, loaded at construction and reloaded when the file changes. The change
/// check is a single stat (last-write time and length), done at most once per <see cref="CheckInterval"/>
/// and by one caller at a time; everyone else keeps verifying against the current snapshot meanwhile.
/// A reload that fails keeps the previous keys and logs a warning. (Refresh hints and bundle endpoints
/// are a later issue.)
/// </summary>
internal sealed class TrustBundleSource
{
    public static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(5);

    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private volatile TrustBundle _current;
    private (DateTime WriteTime, long Length) _stamp;
    private long _lastCheck;
    private int _checking;

    /// <summary>Loads the bundle; throws <see cref="InvalidOperationException"/> naming the file when it is unusable.</summary>
    public TrustBundleSource(string trustDomain, string path, TimeProvider time, ILogger log)
    {
        TrustDomain = trustDomain;
        Path = path;
        _time = time;
        _log = log;
        _stamp = Stamp();
        var problem = TrustBundleParser.TryLoadFile(trustDomain, path, out var bundle);
        if (problem is not null || bundle is null)
        {
            throw new InvalidOperationException($"Trust bundle file '{path}' for trust domain '{trustDomain}' is not a valid SPIFFE bundle: {problem}.");
        }

        _current = bundle;
        _lastCheck = time.GetTimestamp();
        Loaded(bundle, reload: false);
    }

    public string TrustDomain { get; }

    public string Path { get; }

    /// <summary>The current key set, after a cheap, throttled check for a changed file.</summary>
    public TrustBundle Snapshot()
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

    private void ReloadIfChanged()
    {
        var stamp = Stamp();
        if (stamp == _stamp)
        {
            return;
        }

        var problem = TrustBundleParser.TryLoadFile(TrustDomain, Path, out var bundle);
        if (problem is not null || bundle is null)
        {
            // Keep the old keys: a half-written or broken file must not lock every workload out. The stamp
            // advances so the warning is logged once per change; the next write changes it again.
            _stamp = stamp;
            AttestationLog.BundleReloadFailed(_log, TrustDomain, Path, problem ?? "unknown");
            return;
        }

        _stamp = stamp;
        _current = bundle;
        Loaded(bundle, reload: true);
    }

    private void Loaded(TrustBundle bundle, bool reload)
    {
        AttestationLog.BundleLoaded(_log, TrustDomain, Path, bundle.Keys.Count, bundle.Sequence, reload);
        foreach (var skipped in bundle.Skipped)
        {
            AttestationLog.BundleKeySkipped(_log, TrustDomain, Path, skipped);
        }

        if (bundle.IsEmpty)
        {
            AttestationLog.BundleEmpty(_log, TrustDomain, Path);
        }
    }

    private (DateTime, long) Stamp()
    {
        var info = new FileInfo(Path);
        return info.Exists ? (info.LastWriteTimeUtc, info.Length) : (DateTime.MinValue, -1);
    }
}
