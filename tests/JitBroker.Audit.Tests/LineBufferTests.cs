using JitBroker.Core;
using NUnit.Framework;

namespace JitBroker.Audit.Tests;

/// <summary>
/// The writer builds event lines into one batch buffer that the next batch reuses (no array per record). What must hold:
/// a record handed to a write that failed keeps its bytes (the Redis client may still send them), a sink that keeps
/// records keeps correct lines, and a malformed event leaves nothing of itself in the buffer.
/// </summary>
public sealed class LineBufferTests
{
    private AuditFixture _f = null!;

    [SetUp]
    public void SetUp() => _f = new AuditFixture();

    [TearDown]
    public void TearDown() => _f.Dispose();

    [Test]
    public async Task A_failed_writes_records_keep_their_bytes_while_later_batches_are_written()
    {
        var sink = new CapturingSink { FailNext = true };
        await using var log = _f.Log(_f.Options(), sink);

        Assert.ThrowsAsync<BrokerException>(async () => await log.AppendAsync(AuditFixture.Issued(1)));
        var failed = sink.Failed!;
        var asHanded = failed.Select(r => r.LineUtf8.ToArray()).ToList();

        for (var i = 2; i <= 40; i++)
        {
            await log.AppendAsync(AuditFixture.Issued(i));
        }

        Assert.Multiple(() =>
        {
            Assert.That(sink.Written, Has.Count.GreaterThanOrEqualTo(39));
            for (var i = 0; i < failed.Count; i++)
            {
                // With the buffer reused after the failure, the later lines would have been written over these bytes.
                Assert.That(failed[i].LineUtf8.ToArray(), Is.EqualTo(asHanded[i]), "the failed batch's line " + i);
            }
        });
    }

    [Test]
    public async Task Records_kept_by_the_in_memory_sink_read_as_written_after_many_batches()
    {
        var sink = new InMemoryAuditSink();
        await using (var log = _f.Log(_f.Options(checkpointEvery: 7), sink))
        {
            // Several batches of different sizes, so later lines land where earlier ones were.
            for (var round = 1; round <= 5; round++)
            {
                await Task.WhenAll(Enumerable.Range(round * 100, round * 9).Select(i => log.AppendAsync(AuditFixture.Issued(i)).AsTask()));
            }
        }

        _f.WriteLines(sink.Records.Select(r => r.Line));
        var result = await _f.VerifyAsync();
        Assert.That(result.Ok, Is.True, result.FirstFailure?.Message);
        Assert.That(sink.Records.Where(r => !r.IsCheckpoint).Select(r => r.GetString(AuditFields.TaskId)).Distinct().Count(), Is.EqualTo(5 * 6 / 2 * 9));
    }

    [Test]
    public async Task A_malformed_event_leaves_nothing_in_the_batch_beside_its_neighbours()
    {
        var sink = new InMemoryAuditSink();
        await using (var log = _f.Log(_f.Options(), sink))
        {
            var malformed = AuditFixture.Issued(2) with { RuleIds = null! };
            var appends = new[] { log.AppendAsync(AuditFixture.Issued(1)).AsTask(), log.AppendAsync(malformed).AsTask(), log.AppendAsync(AuditFixture.Issued(3)).AsTask() };
            var refused = Assert.ThrowsAsync<BrokerException>(async () => await appends[1]);
            Assert.That(refused!.Reason, Is.EqualTo(Reasons.Audit.EventInvalid));
            await appends[0];
            await appends[2];
        }

        _f.WriteLines(sink.Records.Select(r => r.Line));
        var result = await _f.VerifyAsync();
        Assert.That(result.Ok, Is.True, result.FirstFailure?.Message);
        Assert.That(sink.Records.Where(r => !r.IsCheckpoint).Select(r => r.GetString(AuditFields.TaskId)),
            Is.EqualTo(new[] { "task-1", "task-3" }));
    }

    /// <summary>Keeps what a failed write was handed as is (as the Redis client may), and detached copies of the rest.</summary>
    private sealed class CapturingSink : IAuditSink
    {
        private readonly InMemoryAuditSink _inner = new();

        public bool FailNext { get; set; }

        public IReadOnlyList<AuditRecord>? Failed { get; private set; }

        public IReadOnlyList<AuditRecord> Written => _inner.Records;

        public ValueTask<AuditRecord?> OpenAsync(CancellationToken cancellationToken = default) => _inner.OpenAsync(cancellationToken);

        public ValueTask WriteAsync(IReadOnlyList<AuditRecord> records, CancellationToken cancellationToken = default)
        {
            if (FailNext)
            {
                FailNext = false;
                Failed = [.. records];
                throw new BrokerException(BrokerFailure.Unavailable, Reasons.Audit.Unavailable, "a write that timed out");
            }

            return _inner.WriteAsync(records, cancellationToken);
        }

        public ValueTask SyncAsync(CancellationToken cancellationToken = default) => _inner.SyncAsync(cancellationToken);

        public ValueTask DisposeAsync() => _inner.DisposeAsync();
    }
}
