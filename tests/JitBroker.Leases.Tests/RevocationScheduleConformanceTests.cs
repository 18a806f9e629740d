using JitBroker.Core;
using JitBroker.Testing;
using NUnit.Framework;

namespace JitBroker.Leases.Tests;

/// <summary>The contract of <see cref="IRevocationSchedule"/> (bulk revocation), run against every lease store.</summary>
public abstract class RevocationScheduleConformanceTests : LeaseStoreSuite
{
    private IRevocationSchedule Schedule => (IRevocationSchedule)Store;

    [Test]
    public async Task Scheduling_an_agent_moves_its_leases_and_every_descendant_to_revoking_due_now_and_nothing_else()
    {
        var a1 = await PutAsync(Rogue, "t1");
        var a2 = await PutAsync(Rogue, "t2");
        var child = await PutAsync(Worker, "t1", parent: a1);
        var grandchild = await PutAsync("spiffe://dev.local/agent/third", "t1", parent: child);
        var bystander = await PutAsync(Worker, "own-task");

        var batch = await Schedule.ScheduleAgentsAsync([Rogue], T0, RevocationBatchIds.New());

        Assert.That((batch.Scheduled, batch.InProgress, batch.AlreadyRevoked), Is.EqualTo((4L, 0L, 0L)));
        foreach (var lease in new[] { a1, a2, child, grandchild })
        {
            Assert.That(await StateAsync(lease), Is.EqualTo(LeaseState.Revoking), lease.AgentId);
        }

        Assert.That(await StateAsync(bystander), Is.EqualTo(LeaseState.Active));
        var claimed = await Store.ClaimDueAsync(T0, 100, ClaimTimeout);
        Assert.That(claimed.Select(l => l.LeaseId), Is.EquivalentTo(new[] { a1, a2, child, grandchild }.Select(l => l.LeaseId)), "due at once, long before expiry");
    }

    [Test]
    public async Task Scheduling_again_reaches_children_of_parents_already_revoked_and_counts_what_needs_no_work()
    {
        var parent = await PutAsync(Rogue);
        var child = await PutAsync(Worker, parent: parent);
        // A parent revoked by some earlier path that (in an older ledger) left its child live.
        Assert.That(await Store.TryClaimAsync(parent.LeaseId, T0, ClaimTimeout), Is.Not.Null);
        Assert.That(await Store.MarkOneRevokedAsync(parent.LeaseId, T0), Is.True);
        Assert.That(await StateAsync(child), Is.EqualTo(LeaseState.Revoking), "marking a parent revoked schedules its children in the same step");
        Assert.That(await Store.MarkOneRevokedAsync(parent.LeaseId, T0), Is.False, "only the first mark changes anything");

        var batch = await Schedule.ScheduleAgentsAsync([Rogue], T0, RevocationBatchIds.New());
        Assert.That((batch.Scheduled, batch.InProgress, batch.AlreadyRevoked), Is.EqualTo((0L, 1L, 1L)), "child already revoking, parent done");
    }

    [Test]
    public async Task A_child_cannot_be_recorded_under_a_parent_that_is_not_active()
    {
        var parent = await PutAsync(Rogue);
        await Schedule.ScheduleLeasesAsync([parent.LeaseId], T0, batchId: null);

        var refused = Assert.ThrowsAsync<BrokerException>(() => PutAsync(Worker, parent: parent));
        Assert.That(refused!.Reason, Is.EqualTo(Reasons.ParentLeaseNotActive));
        var orphan = NewLease(TimeSpan.FromMinutes(1), Worker, parentLeaseId: "lease-never-stored");
        Assert.That(Assert.ThrowsAsync<BrokerException>(() => Store.PutAsync(orphan))!.Reason, Is.EqualTo(Reasons.ParentLeaseNotActive));
        Assert.That(await Store.GetAsync(orphan.LeaseId), Is.Null, "nothing half-written");
    }

    [Test]
    public async Task Progress_counts_revoked_and_failing_leases_of_the_batch()
    {
        var leases = new[] { await PutAsync(Rogue, "t1"), await PutAsync(Rogue, "t2"), await PutAsync(Rogue, "t3") };
        var batchId = RevocationBatchIds.New();
        await Schedule.ScheduleAgentsAsync([Rogue], T0, batchId);
        Assert.That(await Schedule.GetProgressAsync(batchId), Is.EqualTo(new RevocationProgress(batchId, 3, 0, 0)));

        var claimed = await Store.ClaimDueAsync(T0, 10, ClaimTimeout);
        Assert.That(claimed, Has.Count.EqualTo(3));
        await Store.MarkOneRevokedAsync(leases[0].LeaseId, T0);
        await Store.MarkRevokeFailedAsync(leases[1].LeaseId, "vault down", T0 + TimeSpan.FromSeconds(1));
        Assert.That(await Schedule.GetProgressAsync(batchId), Is.EqualTo(new RevocationProgress(batchId, 3, 1, 1)));

        // A second failure of the same lease is still one failing lease; its eventual revocation clears it.
        await Store.TryClaimAsync(leases[1].LeaseId, T0, ClaimTimeout);
        await Store.MarkRevokeFailedAsync(leases[1].LeaseId, "vault down", T0 + TimeSpan.FromSeconds(2));
        Assert.That((await Schedule.GetProgressAsync(batchId))!.Failing, Is.EqualTo(1));
        await Store.MarkOneRevokedAsync(leases[1].LeaseId, T0);
        await Store.MarkOneRevokedAsync(leases[2].LeaseId, T0);

        var done = await Schedule.GetProgressAsync(batchId);
        Assert.That(done, Is.EqualTo(new RevocationProgress(batchId, 3, 3, 0)));
        Assert.That(done!.IsDone, Is.True);
        Assert.That(await Schedule.GetProgressAsync(RevocationBatchIds.New()), Is.Null);
    }

    [Test]
    public async Task Scheduling_by_lease_takes_descendants_and_spares_ancestors()
    {
        var root = await PutAsync(Rogue);
        var middle = await PutAsync(Worker, parent: root);
        var leaf = await PutAsync("spiffe://dev.local/agent/third", parent: middle);

        var batch = await Schedule.ScheduleLeasesAsync([middle.LeaseId, "lease-unknown"], T0, RevocationBatchIds.New());

        Assert.That(batch.Scheduled, Is.EqualTo(2));
        Assert.That(await StateAsync(root), Is.EqualTo(LeaseState.Active));
        Assert.That(await StateAsync(middle), Is.EqualTo(LeaseState.Revoking));
        Assert.That(await StateAsync(leaf), Is.EqualTo(LeaseState.Revoking));
    }

    [Test]
    public async Task The_consistency_sweep_schedules_live_children_whose_parent_is_not_active()
    {
        var parent = await PutAsync(Rogue);
        var child = await PutAsync(Worker, parent: parent);
        var healthy = await PutAsync(Worker, "t2", parent: await PutAsync(Rogue, "t2"));
        // A claim (EndTask, a sweeper) takes the parent without touching the child.
        await Store.TryClaimAsync(parent.LeaseId, T0, ClaimTimeout);
        Assert.That(await StateAsync(child), Is.EqualTo(LeaseState.Active));

        Assert.That(await Schedule.ScheduleOrphansAsync(T0), Is.EqualTo(1));
        Assert.That(await StateAsync(child), Is.EqualTo(LeaseState.Revoking));
        Assert.That(await StateAsync(healthy), Is.EqualTo(LeaseState.Active));
        Assert.That(await Schedule.ScheduleOrphansAsync(T0), Is.Zero, "nothing left to find");
    }

    [Test]
    public async Task Agents_holding_leases_are_listed_once()
    {
        await PutAsync(Rogue, "t1");
        await PutAsync(Rogue, "t2");
        await PutAsync(Worker);

        Assert.That(await Schedule.ListAgentsAsync(), Is.EquivalentTo(new[] { Rogue, Worker }));
    }

    [Test]
    public async Task Scheduling_ten_thousand_leases_of_one_agent_schedules_every_one()
    {
        var puts = Enumerable.Range(0, 10_000).Select(i => NewLease(TimeSpan.FromMinutes(5), Rogue, $"t{i % 100}")).ToList();
        foreach (var chunk in puts.Chunk(500))
        {
            await Task.WhenAll(chunk.Select(l => Store.PutAsync(l)));
        }

        var started = System.Diagnostics.Stopwatch.StartNew();
        var batch = await Schedule.ScheduleAgentsAsync([Rogue], T0, RevocationBatchIds.New());
        var took = started.Elapsed;

        Assert.That(batch.Scheduled, Is.EqualTo(10_000));
        Assert.That((await Store.CountByStateAsync())[LeaseState.Active], Is.Zero);
        // Timing is measured by scripts/perf.sh (docs/benchmarks.md), not asserted here.
        TestContext.Out.WriteLine($"scheduled 10,000 leases in {took.TotalMilliseconds:0} ms");
    }
}
