using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using JitBroker.Core;

namespace JitBroker.Server;

/// <summary>
/// Prometheus text exposition (format 0.0.4) of the "JitBroker" meter, for <c>GET /metrics</c>. Written
/// here because no Prometheus exporter package is served by our registry; it listens with
/// <see cref="MeterListener"/> and aggregates counters (sums), histograms (fixed buckets) and gauges
/// (read at scrape time).
/// </summary>
public sealed class PrometheusExporter : IDisposable
{
    private static readonly double[] Buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<(Instrument Instrument, string Labels), Series> _series = new();
    private readonly Lock _scrapeGate = new();

    public PrometheusExporter()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == BrokerMetrics.MeterName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        _listener.Start();
    }

    public string Scrape()
    {
        lock (_scrapeGate)
        {
            // Observable gauges report only when asked: clear their old values, then observe.
            foreach (var key in _series.Keys.Where(k => k.Instrument.IsObservable))
            {
                _series.TryRemove(key, out _);
            }

            _listener.RecordObservableInstruments();
            var text = new StringBuilder();
            foreach (var group in _series.GroupBy(s => s.Key.Instrument).OrderBy(g => g.Key.Name, StringComparer.Ordinal))
            {
                Write(text, group.Key, group.Select(s => (s.Key.Labels, s.Value)));
            }

            return text.ToString();
        }
    }

    public void Dispose() => _listener.Dispose();

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var series = _series.GetOrAdd((instrument, Labels(tags)), static key => new Series(key.Instrument is Histogram<double> ? Buckets.Length : 0));
        series.Add(instrument, value);
    }

    private static void Write(StringBuilder text, Instrument instrument, IEnumerable<(string Labels, Series Series)> series)
    {
        var name = MetricName(instrument);
        var type = instrument switch
        {
            Counter<long> or Counter<double> => "counter",
            Histogram<double> or Histogram<long> => "histogram",
            _ => "gauge",
        };
        text.Append("# HELP ").Append(name).Append(' ').Append(instrument.Description).Append('\n');
        text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        foreach (var (labels, s) in series.OrderBy(x => x.Labels, StringComparer.Ordinal))
        {
            if (type != "histogram")
            {
                text.Append(name).Append(Braces(labels)).Append(' ').Append(Format(s.Sum)).Append('\n');
                continue;
            }

            long cumulative = 0;
            for (var b = 0; b < Buckets.Length; b++)
            {
                cumulative += Interlocked.Read(ref s.BucketCounts[b]);
                text.Append(name).Append("_bucket").Append(Braces(Join(labels, $"le=\"{Format(Buckets[b])}\""))).Append(' ').Append(cumulative).Append('\n');
            }

            text.Append(name).Append("_bucket").Append(Braces(Join(labels, "le=\"+Inf\""))).Append(' ').Append(s.Count).Append('\n');
            text.Append(name).Append("_sum").Append(Braces(labels)).Append(' ').Append(Format(s.Sum)).Append('\n');
            text.Append(name).Append("_count").Append(Braces(labels)).Append(' ').Append(s.Count).Append('\n');
        }
    }

    /// <summary>jitbroker.issuance.duration (unit s) → jitbroker_issuance_duration_seconds; counters end in _total.</summary>
    internal static string MetricName(Instrument instrument)
    {
        var name = instrument.Name.Replace('.', '_');
        if (instrument.Unit == "s" && !name.EndsWith("_seconds", StringComparison.Ordinal))
        {
            name += "_seconds";
        }

        return instrument is Counter<long> or Counter<double> ? name + "_total" : name;
    }

    private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length == 0)
        {
            return "";
        }

        var parts = new List<string>(tags.Length);
        foreach (var tag in tags)
        {
            var value = Convert.ToString(tag.Value, CultureInfo.InvariantCulture) ?? "";
            parts.Add($"{tag.Key}=\"{value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal)}\"");
        }

        parts.Sort(StringComparer.Ordinal);
        return string.Join(',', parts);
    }

    private static string Join(string a, string b) => a.Length == 0 ? b : a + "," + b;

    private static string Braces(string labels) => labels.Length == 0 ? "" : "{" + labels + "}";

    private static string Format(double value) => value.ToString("G17", CultureInfo.InvariantCulture);

    private sealed class Series(int buckets)
    {
        private readonly Lock _gate = new();

        public long[] BucketCounts { get; } = new long[buckets];

        public double Sum { get; private set; }

        public long Count { get; private set; }

        public void Add(Instrument instrument, double value)
        {
            lock (_gate)
            {
                if (instrument.IsObservable)
                {
                    Sum = value; // a gauge reports its current value
                    return;
                }

                Sum += value;
                Count++;
                if (BucketCounts.Length > 0)
                {
                    var index = Array.FindIndex(Buckets, b => value <= b);
                    if (index >= 0)
                    {
                        BucketCounts[index]++;
                    }
                }
            }
        }
    }
}
