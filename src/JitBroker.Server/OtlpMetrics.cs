using JitBroker.Core;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;

namespace JitBroker.Server;

/// <summary>
/// OTLP push of the "JitBroker" meter (OpenTelemetry.Extensions.Hosting is not served by our registry, so
/// the provider is built directly; the container disposes it at shutdown, which flushes the last export).
/// </summary>
internal static class OtlpMetrics
{
    public static MeterProvider Create(TelemetrySettings settings, Uri endpoint) =>
        Sdk.CreateMeterProviderBuilder()
            .AddMeter(BrokerMetrics.MeterName)
            .AddOtlpExporter((exporter, reader) =>
            {
                exporter.Endpoint = endpoint;
                exporter.Protocol = settings.OtlpProtocol == "Grpc" ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
                reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = (int)settings.OtlpExportInterval.TotalMilliseconds;
            })
            .Build();
}
