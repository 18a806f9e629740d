using System.Globalization;

namespace JitBroker.PerfHarness;

/// <summary>The broker's own runtime counters, read from its Prometheus endpoint (the runtime's GC counters, exported by OpenTelemetry).</summary>
internal static class BrokerCounters
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };

    // .NET 9+ runtime meter (System.Runtime) as Prometheus names it; the older OpenTelemetry runtime instrumentation name second.
    private static readonly string[] AllocatedBytesSeries = ["dotnet_gc_heap_total_allocated_bytes_total", "process_runtime_dotnet_gc_allocations_size_bytes_total"];

    /// <summary>Bytes the broker has allocated since it started (GC.GetTotalAllocatedBytes, as its runtime reports it); NaN when not available.</summary>
    public static async Task<double> AllocatedBytesAsync(Uri? brokerHttp)
    {
        if (brokerHttp is null)
        {
            return double.NaN;
        }

        var text = await Http.GetStringAsync(new Uri(brokerHttp, "metrics")).ConfigureAwait(false);
        foreach (var series in AllocatedBytesSeries)
        {
            foreach (var line in text.Split('\n'))
            {
                if (line.StartsWith(series, StringComparison.Ordinal) && line.Length > series.Length && line[series.Length] is ' ' or '{')
                {
                    var rest = line[series.Length] == '{' ? line[(line.IndexOf('}', StringComparison.Ordinal) + 1)..] : line[series.Length..];
                    var value = rest.Trim().Split(' ')[0];
                    return double.Parse(value, CultureInfo.InvariantCulture);
                }
            }
        }

        return double.NaN;
    }

    /// <summary>
    /// The broker's GC collections (all generations), total GC pause seconds and thread-pool work items so far, from the
    /// runtime meter (<c>dotnet.gc.collections</c>, <c>dotnet.gc.pause.time</c>, <c>dotnet.thread_pool.work_item.count</c>:
    /// each item is a hop to a pool thread, often a wake-up); NaN when not available.
    /// </summary>
    public static async Task<(double Collections, double PauseSeconds, double WorkItems)> GcAsync(Uri? brokerHttp)
    {
        if (brokerHttp is null)
        {
            return (double.NaN, double.NaN, double.NaN);
        }

        var text = await Http.GetStringAsync(new Uri(brokerHttp, "metrics")).ConfigureAwait(false);
        return (Sum(text, "dotnet_gc_collections_total"), Sum(text, "dotnet_gc_pause_time_seconds_total"),
            Sum(text, "dotnet_thread_pool_work_item_count_total"));
    }

    /// <summary>
    /// The broker's audit sink writes so far: how many, the records they stored and the seconds they took (the
    /// <c>jitbroker.audit.*</c> histograms' counts and sums); NaN when not available.
    /// </summary>
    public static async Task<(double Writes, double Records, double Seconds)> AuditAsync(Uri? brokerHttp)
    {
        if (brokerHttp is null)
        {
            return (double.NaN, double.NaN, double.NaN);
        }

        var text = await Http.GetStringAsync(new Uri(brokerHttp, "metrics")).ConfigureAwait(false);
        return (Sum(text, "jitbroker_audit_batch_records_count"), Sum(text, "jitbroker_audit_batch_records_sum"),
            Sum(text, "jitbroker_audit_write_duration_seconds_sum"));
    }

    // Sums every labelled variant of one series (e.g. one line per GC generation).
    private static double Sum(string text, string series)
    {
        var found = false;
        var sum = 0.0;
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith(series, StringComparison.Ordinal) && line.Length > series.Length && line[series.Length] is ' ' or '{')
            {
                var rest = line[series.Length] == '{' ? line[(line.IndexOf('}', StringComparison.Ordinal) + 1)..] : line[series.Length..];
                sum += double.Parse(rest.Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                found = true;
            }
        }

        return found ? sum : double.NaN;
    }
}
