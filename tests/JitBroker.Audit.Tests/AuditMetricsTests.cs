using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using JitBroker.Core;
using NUnit.Framework;

namespace JitBroker.Audit.Tests;

/// <summary>
/// The writer reports each successful sink write — records stored and the time the write took (the stream copy, file
/// write and fsync an issuance waits for) — on the broker's meter; a failed write reports nothing.
/// </summary>
[TestFixture]
public sealed class AuditMetricsTests
{
    private AuditFixture _f = null!;

    [SetUp]
    public void SetUp() => _f = new AuditFixture();

    [TearDown]
    public void TearDown() => _f.Dispose();

    [Test]
    public async Task Each_write_reports_its_record_count_and_the_time_the_sink_took()
    {
        using var metrics = new BrokerMetrics();
        using var seen = new Measurements(metrics);
        var options = _f.Options();
        var sink = new TimedSink(new AuditFileSink(options), _f, TimeSpan.FromMilliseconds(3));
        await using (var log = _f.Log(options, sink, metrics: metrics))
        {
            await log.AppendAsync(AuditFixture.Issued(1));
            await log.AppendAsync(AuditFixture.Issued(2));
            await log.AppendManyAsync([.. Enumerable.Range(3, 10).Select(AuditFixture.Issued)]);
        }

        var lines = _f.ReadLines().Length;
        Assert.Multiple(() =>
        {
            Assert.That(seen.Records, Has.Count.EqualTo(sink.Writes), "one measurement per sink write");
            Assert.That(seen.Records.Sum(), Is.EqualTo(lines), "every stored record counted once, checkpoints included");
            Assert.That(seen.Records.Take(3), Is.EqualTo(new long[] { 1, 1, 10 }));
            Assert.That(seen.Seconds, Has.Count.EqualTo(sink.Writes));
            Assert.That(seen.Seconds, Has.All.EqualTo(0.003).Within(1e-9), "the sink's own time, read from the log's clock");
        });
    }

    [Test]
    public async Task A_failed_write_reports_nothing()
    {
        using var metrics = new BrokerMetrics();
        using var seen = new Measurements(metrics);
        var options = _f.Options();
        var sink = new TimedSink(new AuditFileSink(options), _f, TimeSpan.FromMilliseconds(3)) { Fail = true };
        await using (var log = _f.Log(options, sink, metrics: metrics))
        {
            Assert.ThrowsAsync<BrokerException>(async () => await log.AppendAsync(AuditFixture.Issued(1)));
        }

        Assert.That(seen.Records, Is.Empty);
        Assert.That(seen.Seconds, Is.Empty);
    }

    /// <summary>The file sink, with each write taking <c>took</c> on the fixture's clock (or failing after it).</summary>
    private sealed class TimedSink(AuditFileSink inner, AuditFixture f, TimeSpan took) : IAuditSink
    {
        public bool Fail { get; init; }

        public int Writes { get; private set; }

        public ValueTask<AuditRecord?> OpenAsync(CancellationToken cancellationToken = default) => inner.OpenAsync(cancellationToken);

        public async ValueTask WriteAsync(IReadOnlyList<AuditRecord> records, CancellationToken cancellationToken = default)
        {
            f.Clock.Advance(took);
            if (Fail)
            {
                throw new IOException("disk gone");
            }

            await inner.WriteAsync(records, cancellationToken);
            Writes++;
        }

        public ValueTask SyncAsync(CancellationToken cancellationToken = default) => inner.SyncAsync(cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    /// <summary>Listens to the two audit instruments of one <see cref="BrokerMetrics"/>.</summary>
    private sealed class Measurements : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentQueue<long> _records = new();
        private readonly ConcurrentQueue<double> _seconds = new();

        public Measurements(BrokerMetrics metrics)
        {
            _listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter == metrics.Meter && instrument.Name is BrokerMetrics.AuditBatchRecords or BrokerMetrics.AuditWriteDuration)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, _, _) => _records.Enqueue(value));
            _listener.SetMeasurementEventCallback<double>((_, value, _, _) => _seconds.Enqueue(value));
            _listener.Start();
        }

        public List<long> Records => [.. _records];

        public List<double> Seconds => [.. _seconds];

        public void Dispose() => _listener.Dispose();
    }
}
