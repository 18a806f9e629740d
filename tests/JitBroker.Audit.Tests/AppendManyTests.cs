using System.Diagnostics;
using JitBroker.Core;
using NUnit.Framework;

namespace JitBroker.Audit.Tests;

/// <summary>
/// <see cref="AuditLog.AppendManyAsync"/>: a batch of events (ReportUses' accepted uses) lands in order, as consecutive
/// records of one verified chain, with one wait on the writer instead of one per event.
/// </summary>
[TestFixture]
public sealed class AppendManyTests
{
    private AuditFixture _f = null!;

    [SetUp]
    public void SetUp() => _f = new AuditFixture();

    [TearDown]
    public void TearDown() => _f.Dispose();

    [Test]
    public async Task A_batch_is_written_in_order_as_consecutive_records_and_the_chain_verifies()
    {
        await using (var log = _f.Log(_f.Options()))
        {
            await log.AppendAsync(AuditFixture.Issued(0));
            await log.AppendManyAsync([.. Enumerable.Range(1, 300).Select(AuditFixture.Issued)]);
        }

        var tasks = _f.ReadLines().Where(l => l.Contains("\"credential.issued\"", StringComparison.Ordinal))
            .Select(l => System.Text.RegularExpressions.Regex.Match(l, "\"task_id\":\"(task-[0-9]+)\"").Groups[1].Value).ToList();
        Assert.That(tasks, Is.EqualTo(Enumerable.Range(0, 301).Select(i => $"task-{i}")));
        Assert.That((await _f.VerifyAsync()).Ok, Is.True);
    }

    /// <summary>
    /// EndTask's records (ten lease.revoked, then task.ended) are one call: queued one by one, the idle writer woke on the
    /// first and stored the rest in a second batch after the first one's fsync (1.3 sink writes per EndTask; as one batch
    /// EndTask's p99 with fsync Always fell by 0.9–1.4 ms, docs/benchmarks.md).
    /// </summary>
    [Test]
    public async Task A_batch_is_one_sink_write_even_when_the_writer_is_idle_and_wakes_on_its_first_event()
    {
        var options = _f.Options(checkpointEvery: 100_000);
        var sink = new BatchSizes(new AuditFileSink(options));
        await using (var log = _f.Log(options, sink))
        {
            await log.AppendAsync(AuditFixture.Issued(0)); // opened; the writer now waits for work
            for (var i = 0; i < 50; i++)
            {
                await log.AppendManyAsync([.. Enumerable.Range(1, 11).Select(AuditFixture.Issued)]);
            }
        }

        Assert.That(sink.Writes.Skip(1).Take(50), Is.EqualTo(Enumerable.Repeat(11, 50)), "each call one write of eleven records (one fsync under Always)");
        Assert.That((await _f.VerifyAsync()).Ok, Is.True);
    }

    [Test]
    public async Task An_invalid_event_in_a_batch_queues_none_of_it()
    {
        await using (var log = _f.Log(_f.Options()))
        {
            var error = Assert.ThrowsAsync<BrokerException>(async () =>
                await log.AppendManyAsync([AuditFixture.Issued(1), AuditFixture.Issued(2) with { Type = "Not A Type" }]));
            Assert.That(error!.Reason, Is.EqualTo(Reasons.Audit.EventInvalid));
        }

        var lines = File.Exists(_f.LogPath) ? _f.ReadLines() : [];
        Assert.That(lines.Where(l => l.Contains("\"credential.issued\"", StringComparison.Ordinal)), Is.Empty);
    }

    /// <summary>Before/after for ReportUses: 500 uses appended one by one vs in one call, fsync Always, real file.</summary>
    [Test]
    [Explicit("measurement; its numbers are in docs/benchmarks.md")]
    public async Task Measure_500_events_one_by_one_and_in_one_call()
    {
        var events = Enumerable.Range(1, 500).Select(AuditFixture.Issued).ToList();
        var oneByOne = new List<double>();
        var together = new List<double>();
        for (var run = 0; run < 5; run++)
        {
            await using (var log = _f.Log(_f.Options(checkpointEvery: 100_000)))
            {
                await log.AppendAsync(AuditFixture.Issued(0)); // opened and warm
                var clock = Stopwatch.StartNew();
                foreach (var e in events)
                {
                    await log.AppendAsync(e);
                }

                oneByOne.Add(clock.Elapsed.TotalMilliseconds);
                clock.Restart();
                await log.AppendManyAsync(events);
                together.Add(clock.Elapsed.TotalMilliseconds);
            }
        }

        TestContext.Progress.WriteLine($"500 events, fsync Always: one by one {string.Join(", ", oneByOne.Select(v => v.ToString("F3")))} ms; "
            + $"AppendManyAsync {string.Join(", ", together.Select(v => v.ToString("F3")))} ms");
        Assert.That(together.Order().ElementAt(2), Is.LessThan(oneByOne.Order().ElementAt(2)));
    }

    /// <summary>The number of records of each sink write, in order.</summary>
    private sealed class BatchSizes(AuditFileSink inner) : IAuditSink
    {
        public List<int> Writes { get; } = [];

        public ValueTask<AuditRecord?> OpenAsync(CancellationToken cancellationToken = default) => inner.OpenAsync(cancellationToken);

        public ValueTask WriteAsync(IReadOnlyList<AuditRecord> records, CancellationToken cancellationToken = default)
        {
            Writes.Add(records.Count);
            return inner.WriteAsync(records, cancellationToken);
        }

        public ValueTask SyncAsync(CancellationToken cancellationToken = default) => inner.SyncAsync(cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
