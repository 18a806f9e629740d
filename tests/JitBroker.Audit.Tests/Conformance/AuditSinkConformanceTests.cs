using System.Text.Json.Nodes;
using JitBroker.Core;
using JitBroker.Testing;
using NUnit.Framework;
// The reason-code catalogue of the audit log: the one name to change if the catalogue moves.
using Catalogue = JitBroker.Core.Reasons.Audit;

namespace JitBroker.Audit.Tests.Conformance;

/// <summary>
/// The contract of <see cref="IAuditSink"/>, run against every sink: subclass it, return a sink over a fresh, empty
/// store from <see cref="CreateSinkAsync"/>, and say how to read the store back and open it again. A sink stores
/// records exactly as given and in order, hands back its last record when opened, refuses a tail it cannot continue
/// (<c>audit.tail_invalid</c>) and fails closed (<c>audit.unavailable</c>) when its store
/// cannot be reached.
/// </summary>
public abstract class AuditSinkConformanceTests
{
    private IAuditSink? _sink;

    protected IAuditSink Sink => _sink ?? throw new InvalidOperationException("SetUp did not run.");

    /// <summary>A sink over a new, empty store; called before every test.</summary>
    protected abstract Task<IAuditSink> CreateSinkAsync();

    /// <summary>A sink over the same store as <paramref name="sink"/>, as after a restart (the old one is closed first).</summary>
    protected abstract Task<IAuditSink> ReopenAsync(IAuditSink sink);

    /// <summary>A sink whose store cannot be reached at all.</summary>
    protected abstract Task<IAuditSink> CreateUnreachableSinkAsync();

    /// <summary>The lines the store holds, in order (every copy of them, for a sink that keeps more than one).</summary>
    protected abstract Task<IReadOnlyList<string>> StoredLinesAsync();

    /// <summary>Releases the store after a test.</summary>
    protected virtual Task DestroyStoreAsync() => Task.CompletedTask;

    [SetUp]
    public async Task CreateSink() => _sink = await CreateSinkAsync();

    [TearDown]
    public async Task DestroySink()
    {
        if (_sink is not null)
        {
            await _sink.DisposeAsync();
            _sink = null;
        }

        await DestroyStoreAsync();
    }

    /// <summary>Records 1..<paramref name="count"/> chained from the genesis hash, the way the audit log builds them.</summary>
    protected static List<AuditRecord> Chain(int count)
    {
        var records = new List<AuditRecord>();
        var previous = AuditRecord.GenesisHash;
        for (var seq = 1; seq <= count; seq++)
        {
            var record = AuditRecord.Create(seq, TestClock.Start.AddSeconds(seq), previous,
                new JsonObject { ["type"] = AuditEventTypes.CredentialIssued, ["lease_id"] = $"lease-{seq}" });
            records.Add(record);
            previous = record.Hash;
        }

        return records;
    }

    [Test]
    public async Task An_empty_store_opens_with_no_last_record()
    {
        Assert.That(await Sink.OpenAsync(), Is.Null);
    }

    [Test]
    public async Task Records_are_stored_exactly_as_given_and_in_order()
    {
        var records = Chain(5);
        await Sink.OpenAsync();

        await Sink.WriteAsync(records[..3]);
        await Sink.WriteAsync(records[3..]);
        await Sink.SyncAsync();

        Assert.That(await StoredLinesAsync(), Is.EqualTo(records.Select(r => r.Line)));
    }

    [Test]
    public async Task Opened_again_the_store_hands_back_its_last_record()
    {
        var records = Chain(4);
        await Sink.OpenAsync();
        await Sink.WriteAsync(records);
        await Sink.SyncAsync();

        _sink = await ReopenAsync(Sink);
        var last = await Sink.OpenAsync();

        Assert.That(last, Is.Not.Null);
        Assert.Multiple(() =>
        {
            Assert.That(last!.Seq, Is.EqualTo(4));
            Assert.That(last.Hash, Is.EqualTo(records[^1].Hash));
            Assert.That(last.Line, Is.EqualTo(records[^1].Line));
        });
    }

    [Test]
    public async Task A_tail_that_does_not_chain_is_refused_as_tail_invalid()
    {
        var genuine = Chain(2);
        var forged = AuditRecord.Create(3, TestClock.Start.AddSeconds(3), AuditRecord.GenesisHash,
            new JsonObject { ["type"] = AuditEventTypes.CredentialIssued, ["lease_id"] = "lease-forged" });
        await Sink.OpenAsync();
        await Sink.WriteAsync([.. genuine, forged]);
        await Sink.SyncAsync();

        _sink = await ReopenAsync(Sink);
        var ex = Assert.ThrowsAsync<BrokerException>(async () => await Sink.OpenAsync());

        Assert.That(ex!.Reason, Is.EqualTo(Catalogue.TailInvalid), "the chain must not be continued from a record that breaks it");
    }

    [Test]
    public async Task An_unreachable_store_fails_closed_as_unavailable()
    {
        await using var unreachable = await CreateUnreachableSinkAsync();

        var ex = Assert.ThrowsAsync<BrokerException>(async () =>
        {
            await unreachable.OpenAsync();
            await unreachable.WriteAsync(Chain(1));
        });

        Assert.That(ex!.Reason, Is.EqualTo(Catalogue.Unavailable));
    }
}
