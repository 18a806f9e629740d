using System.Diagnostics.Metrics;

namespace JitBroker.Core.Series;

/// <summary>What the console's overview charts: the last <see cref="BrokerSeries.Window"/> of this replica, oldest first.</summary>
public sealed record SeriesSnapshot(
    IReadOnlyList<SeriesPoint> IssuedPerMinute,
    IReadOnlyList<SeriesPoint> ApprovalsWaiting,
    IReadOnlyList<SeriesPoint> RevocationLagMaxSeconds,
    IReadOnlyList<SeriesPoint> RevocationsRetrying,
    IReadOnlyDictionary<string, long> RefusalsByReason);

/// <summary>
/// Samples the broker's own meter (<see cref="BrokerMetrics"/>) into bounded rings for the console's charts: issuance rate,
/// refusals by reason, approvals waiting, revocation lag and revocations being retried, one point per
/// <see cref="Interval"/> for the last <see cref="Window"/>. It listens only to the <see cref="Meter"/> instance of the
/// <see cref="BrokerMetrics"/> it is given, so two brokers in one process never mix. The counters and the lag are this
/// replica's; the two gauges read the lease store and approvals, so they are the whole deployment's.
/// <see cref="Sample"/> is driven by the host's timer; nothing here starts a thread.
/// </summary>
public sealed class BrokerSeries : IDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan Window = TimeSpan.FromHours(1);
    private static readonly int Points = (int)(Window / Interval);

    private readonly MeterListener _listener = new();
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly SeriesRing<SeriesPoint> _issued = new(Points);
    private readonly SeriesRing<SeriesPoint> _approvals = new(Points);
    private readonly SeriesRing<SeriesPoint> _lag = new(Points);
    private readonly SeriesRing<SeriesPoint> _retrying = new(Points);
    private readonly SeriesRing<Dictionary<string, long>> _refusals = new(Points);
    private Dictionary<string, long> _refusalsNow = new(StringComparer.Ordinal);
    private long _issuedNow;
    private double _lagMaxNow = double.NaN;
    private double? _approvalsGauge;
    private double? _retryingGauge;
    private DateTimeOffset _lastSample;

    public BrokerSeries(BrokerMetrics metrics, TimeProvider time)
    {
        _time = time;
        _lastSample = time.GetUtcNow();
        var meter = metrics.Meter;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, meter) && instrument.Name is BrokerMetrics.Requests or BrokerMetrics.RequestsRefused
                    or BrokerMetrics.RevocationLagSeconds or BrokerMetrics.ApprovalsPending or BrokerMetrics.LeasesRevokeFailed)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => OnMeasurement(instrument.Name, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => OnMeasurement(instrument.Name, value, tags));
        _listener.Start();
    }

    /// <summary>
    /// Closes the current interval: reads the gauges and appends one point to every series. The rate is per minute over
    /// the time since the previous sample; the lag is the worst revocation of the interval, a gap when nothing was revoked.
    /// </summary>
    public void Sample()
    {
        _listener.RecordObservableInstruments();
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            var seconds = Math.Max((now - _lastSample).TotalSeconds, 1);
            _issued.Add(new SeriesPoint(now, _issuedNow * 60 / seconds));
            _lag.Add(new SeriesPoint(now, double.IsNaN(_lagMaxNow) ? null : _lagMaxNow));
            _approvals.Add(new SeriesPoint(now, _approvalsGauge));
            _retrying.Add(new SeriesPoint(now, _retryingGauge));
            _refusals.Add(_refusalsNow);
            _refusalsNow = new Dictionary<string, long>(StringComparer.Ordinal);
            _issuedNow = 0;
            _lagMaxNow = double.NaN;
            _lastSample = now;
        }
    }

    public SeriesSnapshot Snapshot()
    {
        lock (_gate)
        {
            var byReason = new SortedDictionary<string, long>(StringComparer.Ordinal);
            foreach (var interval in _refusals.ToArray())
            {
                foreach (var (reason, count) in interval)
                {
                    byReason[reason] = byReason.GetValueOrDefault(reason) + count;
                }
            }

            return new SeriesSnapshot(_issued.ToArray(), _approvals.ToArray(), _lag.ToArray(), _retrying.ToArray(), byReason);
        }
    }

    public void Dispose() => _listener.Dispose();

    private void OnMeasurement(string instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var tag = instrument is BrokerMetrics.Requests or BrokerMetrics.RequestsRefused
            ? Tag(tags, instrument == BrokerMetrics.Requests ? BrokerMetrics.TagOutcome : BrokerMetrics.TagReason)
            : null;
        lock (_gate)
        {
            switch (instrument)
            {
                case BrokerMetrics.Requests when tag == "issued":
                    _issuedNow += (long)value;
                    break;
                case BrokerMetrics.RequestsRefused:
                    var reason = tag ?? "unknown";
                    _refusalsNow[reason] = _refusalsNow.GetValueOrDefault(reason) + (long)value;
                    break;
                case BrokerMetrics.RevocationLagSeconds:
                    _lagMaxNow = double.IsNaN(_lagMaxNow) ? value : Math.Max(_lagMaxNow, value);
                    break;
                case BrokerMetrics.ApprovalsPending:
                    _approvalsGauge = value;
                    break;
                case BrokerMetrics.LeasesRevokeFailed:
                    _retryingGauge = value;
                    break;
            }
        }
    }

    private static string? Tag(ReadOnlySpan<KeyValuePair<string, object?>> tags, string name)
    {
        foreach (var t in tags)
        {
            if (t.Key == name)
            {
                return t.Value as string;
            }
        }

        return null;
    }
}
