using JitBroker.Core;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace JitBroker.Server;

/// <summary>
/// One telemetry pipeline (OpenTelemetry): the "JitBroker" meter plus ASP.NET Core/Kestrel and runtime
/// metrics, scraped at <c>/metrics</c> (Prometheus) and pushed over OTLP when configured; the "JitBroker"
/// activity source (a span per request step) plus ASP.NET Core request spans, pushed over OTLP when configured.
/// </summary>
internal static class BrokerTelemetry
{
    /// <summary>The histogram buckets /metrics has always used (seconds); kept so dashboards and alerts stay valid.</summary>
    internal static readonly double[] DurationBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    public static void Add(IServiceCollection services, JitBrokerSettings settings)
    {
        var telemetry = settings.Telemetry;
        services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("jitbroker"))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(BrokerMetrics.MeterName)
                    .AddAspNetCoreInstrumentation()
                    .AddRuntimeInstrumentation()
                    .AddView("jitbroker.issuance.duration", new ExplicitBucketHistogramConfiguration { Boundaries = DurationBuckets })
                    .AddView("jitbroker.revocation.lag", new ExplicitBucketHistogramConfiguration { Boundaries = DurationBuckets })
                    // The series /metrics has always had: no otel_scope_* labels on them.
                    .AddPrometheusExporter(o => o.ScopeInfoEnabled = false);
                if (telemetry.OtlpEndpoint is { } endpoint)
                {
                    metrics.AddOtlpExporter((exporter, reader) =>
                    {
                        exporter.Endpoint = endpoint;
                        exporter.Protocol = Protocol(telemetry);
                        reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = (int)telemetry.OtlpExportInterval.TotalMilliseconds;
                    });
                }
            });

        // Spans only when someone collects them: with tracing always on, every request recorded eight activities
        // nobody exported (measured: a large share of the broker's CPU per request, docs/benchmarks.md).
        if (telemetry.TracesEndpoint() is { } tracesEndpoint)
        {
            services.AddOpenTelemetry().WithTracing(tracing =>
            {
                tracing.AddSource(BrokerTracing.SourceName).AddAspNetCoreInstrumentation();
                tracing.AddOtlpExporter(exporter =>
                {
                    exporter.Endpoint = tracesEndpoint;
                    exporter.Protocol = Protocol(telemetry);
                    exporter.BatchExportProcessorOptions.ScheduledDelayMilliseconds = (int)telemetry.OtlpExportInterval.TotalMilliseconds;
                });
            });
        }
    }

    private static OtlpExportProtocol Protocol(TelemetrySettings telemetry) =>
        telemetry.OtlpProtocol == "Grpc" ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
}
