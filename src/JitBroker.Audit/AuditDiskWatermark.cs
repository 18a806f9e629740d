using JitBroker.Core;
using Microsoft.Extensions.Logging;

namespace JitBroker.Audit;

/// <summary>
/// Readiness of the audit volume: not ready while its free space is below <see cref="AuditOptions.MinFreeBytes"/> or
/// <see cref="AuditOptions.MinFreePercent"/>. A full volume makes every issuance fail closed (its audit record cannot be
/// written); turning not-ready first lets load balancers move agents to replicas that still can. One measurement is
/// reused for <see cref="AuditOptions.DiskCheckInterval"/>, so probes cost a statvfs at most that often.
/// </summary>
public sealed class AuditDiskWatermark : IReadinessCheck
{
    private readonly string _directory;
    private readonly AuditOptions _options;
    private readonly IAuditFileSystem _files;
    private readonly TimeProvider _time;
    private readonly ILogger<AuditDiskWatermark> _log;
    private readonly Lock _gate = new();
    private (long At, bool Ready)? _last;

    public AuditDiskWatermark(AuditOptions options, IAuditFileSystem files, TimeProvider time, ILogger<AuditDiskWatermark> log)
    {
        _directory = Path.GetDirectoryName(Path.GetFullPath(options.Path)) ?? ".";
        _options = options;
        _files = files;
        _time = time;
        _log = log;
    }

    /// <summary>What /readyz names while this check fails.</summary>
    public string Name => "audit volume free space below watermark (JitBroker:Audit:MinFreeBytes/MinFreePercent)";

    public Task<bool> IsReadyAsync(CancellationToken cancellationToken = default)
    {
        var now = _time.GetTimestamp();
        lock (_gate)
        {
            if (_last is { } last && _time.GetElapsedTime(last.At, now) < _options.DiskCheckInterval)
            {
                return Task.FromResult(last.Ready);
            }

            var ready = Measure();
            if (_last is { } previous && previous.Ready != ready && ready)
            {
                AuditLogMessages.DiskRecovered(_log, _directory);
            }

            _last = (now, ready);
            return Task.FromResult(ready);
        }
    }

    private bool Measure()
    {
        try
        {
            var space = _files.VolumeSpace(_directory);
            var percentFree = space.TotalBytes > 0 ? 100.0 * space.AvailableBytes / space.TotalBytes : 0;
            if (space.AvailableBytes >= _options.MinFreeBytes && percentFree >= _options.MinFreePercent)
            {
                return true;
            }

            AuditLogMessages.DiskLow(_log, _directory, space.AvailableBytes, percentFree, _options.MinFreeBytes, _options.MinFreePercent);
            return false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            // Space that cannot be measured cannot be promised: not ready, like a full volume.
            AuditLogMessages.DiskUnmeasurable(_log, _directory, e);
            return false;
        }
    }
}
