using JitBroker.Core;
using JitBroker.Testing;
using NUnit.Framework;

namespace JitBroker.Leases.Tests;

/// <summary>The contract of <see cref="IRevocationOutbox"/> (revocations whose audit record is owed), run against every lease store.</summary>
public abstract class RevocationOutboxConformanceTests : LeaseStoreSuite
{
    private IRevocationOutbox Outbox => (IRevocationOutbox)Store;

    [Test]
    public async Task Marking_with_an_owner_puts_the_lease_in_that_owners_outbox_in_the_same_step_and_only_once()
    {
        var first = await PutAsync(Rogue, "t1");
        var second = await PutAsync(Rogue, "t2");
        var untracked = await PutAsync(Rogue, "t3");

        Assert.That(await Store.MarkOneRevokedAsync(first.LeaseId, T0, "replica-a"), Is.True);
        Assert.That(await Store.MarkOneRevokedAsync(second.LeaseId, T0 + TimeSpan.FromSeconds(1), "replica-a"), Is.True);
        Assert.That(await Store.MarkOneRevokedAsync(first.LeaseId, T0 + TimeSpan.FromSeconds(2), "replica-b"), Is.False, "already revoked: no second entry");
        await Store.MarkOneRevokedAsync(untracked.LeaseId, T0);

        Assert.That(await Outbox.ListUnauditedOwnersAsync(), Is.EqualTo(new[] { "replica-a" }));
        var entries = await Outbox.ListUnauditedAsync("replica-a", T0 + TimeSpan.FromMinutes(1), 10);
        Assert.That(entries, Is.EqualTo(new[] { new UnauditedRevocation(first.LeaseId, T0), new UnauditedRevocation(second.LeaseId, T0 + TimeSpan.FromSeconds(1)) }),
            "oldest first, with the time of the mark");
        Assert.That((await Outbox.ListUnauditedAsync("replica-a", T0 + TimeSpan.FromSeconds(1), 10)).Select(e => e.LeaseId), Is.EqualTo(new[] { first.LeaseId }),
            "only entries marked strictly before the bound");
        Assert.That(await Outbox.ListUnauditedAsync("replica-b", T0 + TimeSpan.FromMinutes(1), 10), Is.Empty);
    }

    [Test]
    public async Task Marking_many_with_an_owner_answers_per_id_in_order_across_chunks_and_owes_records_for_exactly_the_changed_leases()
    {
        var parent = await PutAsync(Rogue, "t1");
        var child = await PutAsync(Worker, "t1", parent: parent);
        var done = await PutAsync(Rogue, "t2");
        await Store.MarkOneRevokedAsync(done.LeaseId, T0);
        var ids = new List<string> { parent.LeaseId, "lease-never-stored", done.LeaseId };
        ids.AddRange((await Task.WhenAll(Enumerable.Range(0, 150).Select(i => PutAsync(Rogue, $"bulk-{i}")))).Select(l => l.LeaseId));

        var changed = await Store.MarkRevokedManyAsync(ids, T0, "replica-a");

        Assert.That(changed, Is.EqualTo(new[] { true, false, false }.Concat(Enumerable.Repeat(true, 150))), "one answer per id, in order, across chunks");
        Assert.That(await StateAsync(parent), Is.EqualTo(LeaseState.Revoked));
        Assert.That(await StateAsync(child), Is.EqualTo(LeaseState.Revoking), "the revoked parent's child is scheduled in the same step");
        Assert.That((await Outbox.ListUnauditedAsync("replica-a", T0 + TimeSpan.FromMinutes(1), 1000)).Select(e => e.LeaseId),
            Is.EquivalentTo(ids.Where((_, i) => changed[i])), "exactly the changed leases are owed a record");
    }

    [Test]
    public async Task Acknowledging_removes_entries_and_an_empty_outbox_leaves_the_owner_list()
    {
        var first = await PutAsync(Rogue, "t1");
        var second = await PutAsync(Rogue, "t2");
        await Store.MarkOneRevokedAsync(first.LeaseId, T0, "replica-a");
        await Store.MarkOneRevokedAsync(second.LeaseId, T0, "replica-a");

        await Outbox.AcknowledgeAuditedAsync("replica-a", [first.LeaseId, "lease-never-there"]);
        Assert.That((await Outbox.ListUnauditedAsync("replica-a", T0 + TimeSpan.FromMinutes(1), 10)).Select(e => e.LeaseId), Is.EqualTo(new[] { second.LeaseId }));
        Assert.That(await Outbox.ListUnauditedOwnersAsync(), Is.EqualTo(new[] { "replica-a" }));

        await Outbox.AcknowledgeAuditedAsync("replica-a", [second.LeaseId]);
        Assert.That(await Outbox.ListUnauditedOwnersAsync(), Is.Empty);
    }

    [Test]
    public async Task Recovery_of_an_outbox_is_refused_while_its_owner_is_alive_or_another_replica_holds_it_and_remembers_every_recoverer()
    {
        var lease = await PutAsync(Rogue);
        await Store.MarkOneRevokedAsync(lease.LeaseId, T0, "replica-a");
        await Outbox.HeartbeatAsync("replica-a", TimeSpan.FromMilliseconds(300));

        Assert.That(await Outbox.BeginRecoveryAsync("replica-a", "replica-b", TimeSpan.FromMinutes(1)), Is.Null, "the owner is alive");
        Assert.That(await Outbox.BeginRecoveryAsync("replica-a", "replica-a", TimeSpan.FromMinutes(1)), Is.EqualTo(new[] { "replica-a" }),
            "an owner may always recover its own outbox");
        await Outbox.EndRecoveryAsync("replica-a", "replica-a");

        await Task.Delay(TimeSpan.FromMilliseconds(600));
        await Outbox.HeartbeatAsync("replica-b", TimeSpan.FromMinutes(1));
        Assert.That(await Outbox.BeginRecoveryAsync("replica-a", "replica-b", TimeSpan.FromMinutes(1)), Is.EqualTo(new[] { "replica-a", "replica-b" }),
            "the heartbeat lapsed: b may recover, and learns a recovered before");
        Assert.That(await Outbox.BeginRecoveryAsync("replica-a", "replica-c", TimeSpan.FromMinutes(1)), Is.Null, "b holds it");

        await Outbox.EndRecoveryAsync("replica-a", "replica-b");
        Assert.That(await Outbox.BeginRecoveryAsync("replica-a", "replica-c", TimeSpan.FromMinutes(1)), Is.EqualTo(new[] { "replica-a", "replica-b", "replica-c" }),
            "entries remain, so every earlier recoverer is still named");
        await Outbox.AcknowledgeAuditedAsync("replica-a", [lease.LeaseId]);
        await Outbox.EndRecoveryAsync("replica-a", "replica-c");

        await Store.MarkOneRevokedAsync((await PutAsync(Rogue, "t9")).LeaseId, T0, "replica-a");
        Assert.That(await Outbox.BeginRecoveryAsync("replica-a", "replica-d", TimeSpan.FromMinutes(1)), Is.EqualTo(new[] { "replica-d" }),
            "an outbox emptied and ended forgets its recoverers");
    }

    [Test]
    public async Task A_recoverer_that_died_holding_an_outbox_does_not_block_it_for_the_rest_of_its_hold()
    {
        await Store.MarkOneRevokedAsync((await PutAsync(Rogue)).LeaseId, T0, "replica-a");
        await Outbox.HeartbeatAsync("replica-a", TimeSpan.FromMilliseconds(300));
        Assert.That(await Outbox.BeginRecoveryAsync("replica-a", "replica-a", TimeSpan.FromMinutes(5)), Is.Not.Null, "a recovers its own outbox");

        // a is killed mid-pass: no EndRecovery, and its heartbeat lapses.
        Assert.That(await Outbox.BeginRecoveryAsync("replica-a", "replica-b", TimeSpan.FromMinutes(5)), Is.Null, "a is alive and holds it");
        await Task.Delay(TimeSpan.FromMilliseconds(600));
        Assert.That(await Outbox.BeginRecoveryAsync("replica-a", "replica-b", TimeSpan.FromMinutes(5)), Is.EqualTo(new[] { "replica-a", "replica-b" }),
            "a's heartbeat lapsed: its hold no longer counts, and b learns a recovered before (its chain is searched)");
    }
}
