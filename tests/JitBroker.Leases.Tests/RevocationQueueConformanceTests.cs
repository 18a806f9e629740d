using System.Collections.Concurrent;
using JitBroker.Core;
using JitBroker.Testing;
using NUnit.Framework;

namespace JitBroker.Leases.Tests;

/// <summary>The contract of <see cref="IRevocationQueue"/> (claims and revocation outcomes: the sweeper, EndTask), for every store.</summary>
public abstract class RevocationQueueConformanceTests : LeaseStoreSuite
{
    [Test]
    public async Task Claim_due_takes_only_due_leases_in_due_order_and_respects_max()
    {
        // Stored out of order, so an implementation that returns insertion order fails. One placement: a sharded store
        // keeps due order within a shard (see ClaimDueAsync); across shards it shares a claim by backlog.
        var bySecond = new Dictionary<int, Lease>();
        var placement = Random.Shared.Next(LeaseIds.Placements);
        foreach (var second in new[] { 4, 1, 5, 3, 2 })
        {
            bySecond[second] = NewLease(TimeSpan.FromSeconds(second), leaseId: LeaseIds.New(placement));
            await Store.PutAsync(bySecond[second]);
        }

        var notDue = await PutAsync(TimeSpan.FromMinutes(10));
        var now = T0 + TimeSpan.FromSeconds(10);

        var firstBatch = await Store.ClaimDueAsync(now, 3, ClaimTimeout);
        var secondBatch = await Store.ClaimDueAsync(now, 10, ClaimTimeout);

        Assert.That(Ids(firstBatch), Is.EqualTo(new[] { bySecond[1].LeaseId, bySecond[2].LeaseId, bySecond[3].LeaseId }));
        Assert.That(Ids(secondBatch), Is.EqualTo(new[] { bySecond[4].LeaseId, bySecond[5].LeaseId }));
        Assert.That((await GetAsync(notDue.LeaseId)).State, Is.EqualTo(LeaseState.Active));
    }

    [Test]
    public async Task Claims_across_placements_take_every_due_lease_once_and_only_due_ones()
    {
        // Spread over many placements (a sharded store's buckets), more due than one claim takes.
        var due = new List<string>();
        for (var i = 0; i < 40; i++)
        {
            var lease = NewLease(TimeSpan.FromMilliseconds(100 + i), leaseId: LeaseIds.New(i * 7 % LeaseIds.Placements));
            await Store.PutAsync(lease);
            due.Add(lease.LeaseId);
        }

        var notDue = await PutAsync(TimeSpan.FromMinutes(10));
        var now = T0 + TimeSpan.FromSeconds(10);

        var batches = new List<IReadOnlyList<Lease>>();
        for (var round = 0; round < 10; round++)
        {
            batches.Add(await Store.ClaimDueAsync(now, 15, ClaimTimeout));
        }

        Assert.That(batches.Select(b => b.Count), Is.EqualTo(new[] { 15, 15, 10, 0, 0, 0, 0, 0, 0, 0 }), "full claims while more is due");
        Assert.That(batches.SelectMany(Ids), Is.EquivalentTo(due), "every due lease exactly once");
        Assert.That((await GetAsync(notDue.LeaseId)).State, Is.EqualTo(LeaseState.Active));
    }

    [Test]
    public async Task Next_due_is_the_earliest_due_time_on_the_schedule_and_null_when_empty()
    {
        Assert.That(await Store.NextDueAsync(T0), Is.Null, "nothing scheduled");

        await PutAsync(TimeSpan.FromSeconds(30));
        var earliest = await PutAsync(TimeSpan.FromSeconds(5));
        await PutAsync(TimeSpan.FromMinutes(10));

        Assert.That(await Store.NextDueAsync(T0), Is.EqualTo(earliest.ExpiresAt), "in the future: the sweeper sleeps until then");
        Assert.That(await Store.NextDueAsync(T0 + TimeSpan.FromMinutes(1)), Is.EqualTo(earliest.ExpiresAt), "in the past: due now");

        var claimedAt = T0 + TimeSpan.FromSeconds(6);
        Assert.That(Ids(await Store.ClaimDueAsync(claimedAt, 10, ClaimTimeout)), Is.EqualTo(new[] { earliest.LeaseId }));
        Assert.That(await Store.NextDueAsync(claimedAt), Is.EqualTo(T0 + TimeSpan.FromSeconds(30)), "the next lease; the claim is due at its deadline, later");

        await Store.MarkRevokedManyAsync([earliest.LeaseId], claimedAt);
        var later = await Store.ClaimDueAsync(T0 + TimeSpan.FromMinutes(11), 10, ClaimTimeout);
        await Store.MarkRevokedManyAsync(Ids(later), T0 + TimeSpan.FromMinutes(11));
        Assert.That(await Store.NextDueAsync(T0 + TimeSpan.FromMinutes(11)), Is.Null, "revoked leases leave the schedule");
    }

    [Test]
    public async Task Claim_marks_revoking_moves_due_to_now_plus_timeout_and_a_second_claim_gets_nothing()
    {
        var lease = await PutAsync(TimeSpan.FromSeconds(1));
        var now = T0 + TimeSpan.FromSeconds(2);

        var claimed = await Store.ClaimDueAsync(now, 10, ClaimTimeout);
        var again = await Store.ClaimDueAsync(now, 10, ClaimTimeout);

        Assert.That(claimed, Has.Count.EqualTo(1));
        Assert.That((claimed[0].State, claimed[0].DueAt), Is.EqualTo((LeaseState.Revoking, (DateTimeOffset?)(now + ClaimTimeout))));
        var stored = await GetAsync(lease.LeaseId);
        Assert.That((stored.State, stored.DueAt), Is.EqualTo((LeaseState.Revoking, (DateTimeOffset?)(now + ClaimTimeout))));
        Assert.That(again, Is.Empty);
        await AssertDueExactlyAtAsync(now + ClaimTimeout, lease.LeaseId);
    }

    [Test]
    public async Task A_lapsed_claim_is_claimed_again_after_its_deadline()
    {
        // The first claimer is a replica that died: it never marks the lease revoked or failed.
        var lease = await PutAsync(TimeSpan.FromSeconds(1));
        var claimedAt = T0 + TimeSpan.FromSeconds(1);
        await Store.ClaimDueAsync(claimedAt, 10, ClaimTimeout);

        var beforeDeadline = await Store.ClaimDueAsync(claimedAt + ClaimTimeout - TimeSpan.FromMilliseconds(1), 10, ClaimTimeout);
        var atDeadline = await Store.ClaimDueAsync(claimedAt + ClaimTimeout, 10, ClaimTimeout);

        Assert.That(beforeDeadline, Is.Empty);
        Assert.That(Ids(atDeadline), Is.EqualTo(new[] { lease.LeaseId }));
        Assert.That(atDeadline[0].DueAt, Is.EqualTo(claimedAt + ClaimTimeout + ClaimTimeout));
    }

    [Test]
    public async Task Concurrent_claimers_never_claim_the_same_lease_twice()
    {
        const int leaseCount = 800;
        var expected = new List<string>();
        for (var i = 0; i < leaseCount; i++)
        {
            expected.Add((await PutAsync(TimeSpan.FromMilliseconds(i + 1))).LeaseId);
        }

        var claims = new ConcurrentBag<string>();
        var now = T0 + TimeSpan.FromHours(1);
        var claimers = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            // Bounded, so a store that hands out the same leases forever fails instead of hanging.
            for (var round = 0; round <= leaseCount; round++)
            {
                var batch = await Store.ClaimDueAsync(now, 7, ClaimTimeout);
                if (batch.Count == 0)
                {
                    return;
                }

                foreach (var lease in batch)
                {
                    claims.Add(lease.LeaseId);
                }
            }
        }));
        await Task.WhenAll(claimers);

        Assert.That(claims, Has.Count.EqualTo(leaseCount), "a lease claimed twice shows up as an extra entry");
        Assert.That(claims, Is.EquivalentTo(expected));
    }

    [Test]
    public async Task Claim_due_takes_failed_leases_once_their_retry_time_came()
    {
        var lease = await PutAsync(TimeSpan.FromSeconds(1));
        var now = T0 + TimeSpan.FromSeconds(1);
        await Store.ClaimDueAsync(now, 10, ClaimTimeout);
        await Store.MarkRevokeFailedAsync(lease.LeaseId, "backend unavailable", now + TimeSpan.FromSeconds(4));

        var early = await Store.ClaimDueAsync(now + TimeSpan.FromSeconds(3), 10, ClaimTimeout);
        var due = await Store.ClaimDueAsync(now + TimeSpan.FromSeconds(4), 10, ClaimTimeout);

        Assert.That(early, Is.Empty);
        Assert.That(Ids(due), Is.EqualTo(new[] { lease.LeaseId }));
        Assert.That((due[0].State, due[0].Attempts, due[0].LastError), Is.EqualTo((LeaseState.Revoking, 1, "backend unavailable")));
    }

    [Test]
    public async Task Try_claim_takes_an_unexpired_lease_whatever_its_due_time()
    {
        var lease = await PutAsync(TimeSpan.FromMinutes(5));
        var now = T0 + TimeSpan.FromSeconds(1);

        var claimed = await Store.TryClaimAsync(lease.LeaseId, now, ClaimTimeout);

        Assert.That(claimed, Is.Not.Null);
        Assert.That((claimed!.State, claimed.DueAt), Is.EqualTo((LeaseState.Revoking, (DateTimeOffset?)(now + ClaimTimeout))));
        Assert.That((await GetAsync(lease.LeaseId)).State, Is.EqualTo(LeaseState.Revoking));
        Assert.That(await Store.ClaimDueAsync(now, 10, ClaimTimeout), Is.Empty, "claimed by EndTask, so not due for the sweeper");
    }

    [Test]
    public async Task Try_claim_takes_a_failed_lease_and_keeps_its_attempts()
    {
        var lease = await PutAsync(TimeSpan.FromMinutes(5));
        await Store.MarkRevokeFailedAsync(lease.LeaseId, "vault 502", T0 + TimeSpan.FromMinutes(1));

        var claimed = await Store.TryClaimAsync(lease.LeaseId, T0, ClaimTimeout);

        Assert.That((claimed?.State, claimed?.Attempts), Is.EqualTo(((LeaseState?)LeaseState.Revoking, (int?)1)));
    }

    [Test]
    public async Task Try_claim_of_a_revoked_or_missing_lease_is_null()
    {
        var lease = await PutAsync(TimeSpan.FromMinutes(5));
        await Store.MarkOneRevokedAsync(lease.LeaseId, T0);

        Assert.That(await Store.TryClaimAsync(lease.LeaseId, T0, ClaimTimeout), Is.Null);
        Assert.That(await Store.TryClaimAsync("lease-never-stored", T0, ClaimTimeout), Is.Null);
        Assert.That((await GetAsync(lease.LeaseId)).State, Is.EqualTo(LeaseState.Revoked));
    }

    [Test]
    public async Task Claim_with_descendants_claims_every_lease_of_the_trees_roots_first_and_walks_below_revoked_ones()
    {
        var active = await PutAsync(TimeSpan.FromMinutes(5));
        var revoked = await PutAsync(TimeSpan.FromMinutes(5));
        var child = await PutChildAsync(active.LeaseId);
        var grandchild = await PutChildAsync(child.LeaseId);
        var underRevoked = await PutChildAsync(revoked.LeaseId);
        await Store.MarkOneRevokedAsync(revoked.LeaseId, T0); // schedules underRevoked: revoking, still to be claimed
        var now = T0 + TimeSpan.FromSeconds(1);

        var tree = await Store.ClaimWithDescendantsAsync([active.LeaseId, revoked.LeaseId, "lease-never-stored"], now, ClaimTimeout);

        var ids = tree.Select(c => c.LeaseId).ToList();
        Assert.That(ids.Take(3), Is.EqualTo(new[] { active.LeaseId, revoked.LeaseId, "lease-never-stored" }), "the roots first, in order, an unknown one too");
        Assert.That(ids.Skip(3), Is.EquivalentTo(new[] { child.LeaseId, grandchild.LeaseId, underRevoked.LeaseId }), "then every descendant once");
        Assert.That(ids.IndexOf(child.LeaseId), Is.LessThan(ids.IndexOf(grandchild.LeaseId)), "breadth first");
        Assert.That(tree.Where(c => c.Claimed is null).Select(c => c.LeaseId), Is.EquivalentTo(new[] { revoked.LeaseId, "lease-never-stored" }));
        foreach (var claim in tree.Where(c => c.Claimed is not null))
        {
            Assert.That((claim.Claimed!.LeaseId, claim.Claimed.State, claim.Claimed.DueAt), Is.EqualTo((claim.LeaseId, LeaseState.Revoking, (DateTimeOffset?)(now + ClaimTimeout))));
            var stored = await GetAsync(claim.LeaseId);
            Assert.That((stored.State, stored.DueAt), Is.EqualTo((LeaseState.Revoking, (DateTimeOffset?)(now + ClaimTimeout))), claim.LeaseId);
        }

        Assert.That((await GetAsync(revoked.LeaseId)).State, Is.EqualTo(LeaseState.Revoked), "a revoked root is not claimed back");
        Assert.That(await Store.ClaimDueAsync(now, 10, ClaimTimeout), Is.Empty, "claimed by EndTask, so not due for the sweeper");
        var late = NewLease(TimeSpan.FromMinutes(5), parentLeaseId: grandchild.LeaseId);
        var ex = Assert.ThrowsAsync<BrokerException>(() => Store.PutAsync(late));
        Assert.That(ex!.Reason, Is.EqualTo(Reasons.ParentLeaseNotActive), "no child can be added under a claimed lease");
    }

    [Test]
    public async Task Claim_with_descendants_lists_a_lease_once_when_it_is_a_root_and_a_descendant()
    {
        var parent = await PutAsync(TimeSpan.FromMinutes(5));
        var child = await PutChildAsync(parent.LeaseId);
        var grandchild = await PutChildAsync(child.LeaseId);

        var tree = await Store.ClaimWithDescendantsAsync([child.LeaseId, parent.LeaseId, child.LeaseId], T0, ClaimTimeout);

        Assert.That(tree.Select(c => c.LeaseId), Is.EqualTo(new[] { child.LeaseId, parent.LeaseId, grandchild.LeaseId }));
        Assert.That(tree.Select(c => c.Claimed?.State), Has.All.EqualTo(LeaseState.Revoking));
    }

    [Test]
    public async Task Claim_task_claims_the_agents_leases_of_the_task_in_issue_order_then_their_descendants()
    {
        const string other = "spiffe://dev.local/agent/b";
        var later = NewLease(TimeSpan.FromMinutes(5)) with { IssuedAt = T0 + TimeSpan.FromSeconds(2) };
        var earlier = NewLease(TimeSpan.FromMinutes(5)) with { IssuedAt = T0 + TimeSpan.FromSeconds(1) };
        var revoked = NewLease(TimeSpan.FromMinutes(5)) with { IssuedAt = T0 + TimeSpan.FromSeconds(3) };
        foreach (var lease in new[] { later, earlier, revoked })
        {
            await Store.PutAsync(lease);
        }

        await Store.MarkOneRevokedAsync(revoked.LeaseId, T0);
        // Delegated to another agent: a descendant only. Delegated back to the same agent and task: a root and a descendant.
        var delegated = NewLease(TimeSpan.FromMinutes(5), agentId: other, parentLeaseId: later.LeaseId);
        var selfDelegated = NewLease(TimeSpan.FromMinutes(5), parentLeaseId: earlier.LeaseId) with { IssuedAt = T0 + TimeSpan.FromSeconds(4) };
        var othersTask = NewLease(TimeSpan.FromMinutes(5), agentId: other);
        var otherTask = NewLease(TimeSpan.FromMinutes(5), taskId: "task-2");
        foreach (var lease in new[] { delegated, selfDelegated, othersTask, otherTask })
        {
            await Store.PutAsync(lease);
        }

        var now = T0 + TimeSpan.FromSeconds(5);

        var tree = await Store.ClaimTaskAsync("spiffe://dev.local/agent/a", "task-1", now, ClaimTimeout);

        Assert.That(tree.Select(c => c.LeaseId), Is.EqualTo(new[] { earlier.LeaseId, later.LeaseId, revoked.LeaseId, selfDelegated.LeaseId, delegated.LeaseId }),
            "the task's leases in issue order (a revoked one too), then the descendants not already listed");
        Assert.That(tree.Where(c => c.Claimed is null).Select(c => c.LeaseId), Is.EqualTo(new[] { revoked.LeaseId }));
        foreach (var claim in tree.Where(c => c.Claimed is not null))
        {
            Assert.That((claim.Claimed!.State, (await GetAsync(claim.LeaseId)).State), Is.EqualTo((LeaseState.Revoking, LeaseState.Revoking)), claim.LeaseId);
        }

        Assert.That((await GetAsync(othersTask.LeaseId)).State, Is.EqualTo(LeaseState.Active), "another agent's lease of the same task is not touched");
        Assert.That((await GetAsync(otherTask.LeaseId)).State, Is.EqualTo(LeaseState.Active), "the agent's lease of another task is not touched");
        Assert.That(await Store.ClaimTaskAsync("spiffe://dev.local/agent/a", "task-unknown", now, ClaimTimeout), Is.Empty);
        Assert.That((await Store.ClaimTaskAsync(other, "task-1", now, ClaimTimeout)).Select(c => (c.LeaseId, c.Claimed?.State)),
            Is.EquivalentTo(new[] { (othersTask.LeaseId, (LeaseState?)LeaseState.Revoking), (delegated.LeaseId, (LeaseState?)LeaseState.Revoking) }),
            "the other agent's own lease, and the delegated one it holds (claimed again, as TryClaim does: it is not revoked)");
    }

    [Test]
    public async Task Claim_task_with_a_ledger_revocation_revokes_those_kinds_in_the_step_and_claims_the_rest()
    {
        const string agent = "spiffe://dev.local/agent/a", worker = "spiffe://dev.local/agent/b", owner = "replica-1";
        var jwtRoot = NewLease(TimeSpan.FromMinutes(5)) with { IssuerKind = "jwt", IssuedAt = T0 + TimeSpan.FromSeconds(1) };
        var vaultRoot = NewLease(TimeSpan.FromMinutes(5)) with { IssuedAt = T0 + TimeSpan.FromSeconds(2) };
        var revokedRoot = NewLease(TimeSpan.FromMinutes(5)) with { IssuerKind = "jwt", IssuedAt = T0 + TimeSpan.FromSeconds(3) };
        foreach (var lease in new[] { jwtRoot, vaultRoot, revokedRoot })
        {
            await Store.PutAsync(lease);
        }

        await Store.MarkOneRevokedAsync(revokedRoot.LeaseId, T0);
        // Delegated from the JWT root: one child the ledger revokes too, one it must claim (another kind, another agent).
        var jwtChild = NewLease(TimeSpan.FromMinutes(5), agentId: worker, parentLeaseId: jwtRoot.LeaseId) with { IssuerKind = "jwt" };
        var vaultChild = NewLease(TimeSpan.FromMinutes(5), agentId: worker, parentLeaseId: jwtRoot.LeaseId);
        await Store.PutAsync(jwtChild);
        await Store.PutAsync(vaultChild);
        var now = T0 + TimeSpan.FromSeconds(5);

        var tree = await Store.ClaimTaskAsync(agent, "task-1", now, ClaimTimeout, new LedgerRevocation(new HashSet<string> { "jwt" }, owner));

        var children = new[] { jwtChild.LeaseId, vaultChild.LeaseId }.Order(StringComparer.Ordinal);
        Assert.That(tree.Select(c => c.LeaseId), Is.EqualTo(new[] { jwtRoot.LeaseId, vaultRoot.LeaseId, revokedRoot.LeaseId }.Concat(children)));
        var byId = tree.ToDictionary(c => c.LeaseId);
        foreach (var id in new[] { jwtRoot.LeaseId, jwtChild.LeaseId })
        {
            Assert.That((byId[id].RevokedInStep, byId[id].Claimed?.State, byId[id].Claimed?.RevokedAt), Is.EqualTo((true, (LeaseState?)LeaseState.Revoked, (DateTimeOffset?)now)), id);
            Assert.That((await GetAsync(id)).State, Is.EqualTo(LeaseState.Revoked), id);
        }

        foreach (var id in new[] { vaultRoot.LeaseId, vaultChild.LeaseId })
        {
            Assert.That((byId[id].RevokedInStep, byId[id].Claimed?.State), Is.EqualTo((false, (LeaseState?)LeaseState.Revoking)), id);
            Assert.That((await GetAsync(id)).State, Is.EqualTo(LeaseState.Revoking), id);
        }

        Assert.That((byId[revokedRoot.LeaseId].RevokedInStep, byId[revokedRoot.LeaseId].Claimed), Is.EqualTo((false, (Lease?)null)), "already revoked before");
        Assert.That((await ((IRevocationOutbox)Store).ListUnauditedAsync(owner, now + TimeSpan.FromSeconds(1), 100)).Select(u => u.LeaseId),
            Is.EquivalentTo(new[] { jwtRoot.LeaseId, jwtChild.LeaseId }), "the revoked ones are in the owner's outbox, in the same step");
        Assert.That(await Store.MarkRevokedManyAsync([jwtRoot.LeaseId, jwtChild.LeaseId, vaultRoot.LeaseId], now), Is.EqualTo(new[] { false, false, true }),
            "a later mark changes nothing for what the step revoked: one call wrote each state change, so one audit record");
        Assert.That(Ids(await Store.ClaimDueAsync(now + ClaimTimeout + TimeSpan.FromSeconds(1), 100, ClaimTimeout)), Is.EqualTo(new[] { vaultChild.LeaseId }),
            "what the step revoked is off the schedule; a claim it made lapses and is claimed again");
    }

    [Test]
    public async Task Claim_task_with_a_ledger_revocation_revokes_a_lease_delegated_within_the_task_from_its_state_after_the_parent()
    {
        // Delegated back to the same agent and task, the child is a root and a descendant, walked after its parent: a store
        // whose parent step schedules the child (revoking, due now) must revoke the child from that state, not from what a
        // read before the parent's step said (active) — or the child stays counted as revoking.
        const string owner = "replica-1";
        var root = NewLease(TimeSpan.FromMinutes(5)) with { IssuerKind = "jwt", IssuedAt = T0 + TimeSpan.FromSeconds(1) };
        await Store.PutAsync(root);
        var child = NewLease(TimeSpan.FromMinutes(5), parentLeaseId: root.LeaseId) with { IssuerKind = "jwt", IssuedAt = T0 + TimeSpan.FromSeconds(2) };
        await Store.PutAsync(child);
        var now = T0 + TimeSpan.FromSeconds(5);

        var tree = await Store.ClaimTaskAsync(root.AgentId, root.TaskId, now, ClaimTimeout, new LedgerRevocation(new HashSet<string> { "jwt" }, owner));

        Assert.That(tree.Select(c => (c.LeaseId, c.RevokedInStep, c.Claimed?.State)), Is.EqualTo(new[]
        {
            (root.LeaseId, true, (LeaseState?)LeaseState.Revoked), (child.LeaseId, true, (LeaseState?)LeaseState.Revoked),
        }));
        await AssertEachRevokedOnceAsync(owner, now, root.LeaseId, child.LeaseId);
    }

    /// <summary>The given leases — the store's only ones — are revoked, none left revoking or due, each in the owner's outbox once.</summary>
    private async Task AssertEachRevokedOnceAsync(string owner, DateTimeOffset now, params string[] leaseIds)
    {
        var counts = await Store.CountByStateAsync();
        Assert.That((counts[LeaseState.Active], counts[LeaseState.Revoking], counts[LeaseState.Revoked]), Is.EqualTo((0L, 0L, (long)leaseIds.Length)),
            "nothing left counted as revoking");
        Assert.That(await Store.ClaimDueAsync(now + ClaimTimeout + TimeSpan.FromSeconds(1), 10, ClaimTimeout), Is.Empty, "nothing left on the schedule");
        Assert.That((await ((IRevocationOutbox)Store).ListUnauditedAsync(owner, now + TimeSpan.FromSeconds(1), 100)).Select(u => u.LeaseId),
            Is.EquivalentTo(leaseIds), "each revocation in the outbox once");
    }

    [Test]
    public async Task Claim_due_with_a_ledger_revocation_revokes_a_parent_and_its_child_due_in_the_same_claim_once_each([Values] bool childDueFirst)
    {
        // Both in one claim: whichever step comes first, the child ends revoked once — not left counted as revoking or due
        // by the parent's step scheduling it, and not written to the outbox twice.
        const string owner = "replica-1";
        var parent = NewLease(TimeSpan.FromSeconds(childDueFirst ? 3 : 1)) with { IssuerKind = "jwt" };
        await Store.PutAsync(parent);
        var child = NewLease(TimeSpan.FromSeconds(2), parentLeaseId: parent.LeaseId) with { IssuerKind = "jwt" };
        await Store.PutAsync(child);
        var now = T0 + TimeSpan.FromSeconds(10);

        var claimed = await Store.ClaimDueAsync(now, 10, ClaimTimeout, new LedgerRevocation(new HashSet<string> { "jwt" }, owner));

        var order = childDueFirst ? new[] { child.LeaseId, parent.LeaseId } : [parent.LeaseId, child.LeaseId];
        Assert.That(claimed.Select(l => (l.LeaseId, l.State, l.RevokedAt)), Is.EqualTo(order.Select(id => (id, LeaseState.Revoked, (DateTimeOffset?)now))));
        await AssertEachRevokedOnceAsync(owner, now, parent.LeaseId, child.LeaseId);
    }

    [Test]
    public async Task Marking_a_parent_and_its_child_in_one_call_revokes_each_once_and_a_repeated_id_is_already_done()
    {
        const string owner = "replica-1";
        var parent = NewLease(TimeSpan.FromMinutes(5));
        await Store.PutAsync(parent);
        var child = NewLease(TimeSpan.FromMinutes(5), parentLeaseId: parent.LeaseId);
        await Store.PutAsync(child);
        var now = T0 + TimeSpan.FromSeconds(5);

        var changed = await Store.MarkRevokedManyAsync([parent.LeaseId, child.LeaseId, parent.LeaseId], now, owner);

        Assert.That(changed, Is.EqualTo(new[] { true, true, false }), "the second mention of the parent finds it revoked");
        Assert.That(((await GetAsync(parent.LeaseId)).State, (await GetAsync(child.LeaseId)).State), Is.EqualTo((LeaseState.Revoked, LeaseState.Revoked)));
        await AssertEachRevokedOnceAsync(owner, now, parent.LeaseId, child.LeaseId);
    }

    [Test]
    public async Task Claim_due_with_a_ledger_revocation_revokes_those_kinds_in_the_step_and_claims_the_rest()
    {
        const string owner = "replica-1";
        var placement = Random.Shared.Next(LeaseIds.Placements);
        var jwt = NewLease(TimeSpan.FromSeconds(1), leaseId: LeaseIds.New(placement)) with { IssuerKind = "jwt" };
        var other = NewLease(TimeSpan.FromSeconds(2), leaseId: LeaseIds.New(placement));
        await Store.PutAsync(jwt);
        await Store.PutAsync(other);
        var child = NewLease(TimeSpan.FromMinutes(5), parentLeaseId: jwt.LeaseId);
        await Store.PutAsync(child);
        var now = T0 + TimeSpan.FromSeconds(10);

        var claimed = await Store.ClaimDueAsync(now, 10, ClaimTimeout, new LedgerRevocation(new HashSet<string> { "jwt" }, owner));

        Assert.That(claimed.Select(l => (l.LeaseId, l.State, l.RevokedAt)), Is.EqualTo(new[]
        {
            (jwt.LeaseId, LeaseState.Revoked, (DateTimeOffset?)now),
            (other.LeaseId, LeaseState.Revoking, (DateTimeOffset?)null),
        }), "in due order: the JWT lease revoked in the step, the other claimed");
        Assert.That(((await GetAsync(jwt.LeaseId)).State, (await GetAsync(other.LeaseId)).State), Is.EqualTo((LeaseState.Revoked, LeaseState.Revoking)));
        Assert.That((await ((IRevocationOutbox)Store).ListUnauditedAsync(owner, now + TimeSpan.FromSeconds(1), 100)).Select(u => u.LeaseId),
            Is.EqualTo(new[] { jwt.LeaseId }), "in the owner's outbox, in the same step");
        Assert.That(await Store.MarkRevokedManyAsync([jwt.LeaseId], now), Is.EqualTo(new[] { false }), "one state change, so one audit record");
        Assert.That((await Store.ClaimDueAsync(now, 10, ClaimTimeout)).Select(l => (l.LeaseId, l.State)), Is.EqualTo(new[] { (child.LeaseId, LeaseState.Revoking) }),
            "the revoked lease's child was scheduled due now, in the same step; the rest is claimed or off the schedule");
    }

    [Test]
    public async Task Claim_task_revokes_in_the_step_only_leases_of_the_ledgers_kinds()
    {
        var lease = await PutAsync(TimeSpan.FromMinutes(5));
        var now = T0 + TimeSpan.FromSeconds(1);

        var tree = await Store.ClaimTaskAsync(lease.AgentId, lease.TaskId, now, ClaimTimeout, new LedgerRevocation(new HashSet<string> { "jwt" }, null));

        Assert.That(tree.Select(c => (c.LeaseId, c.RevokedInStep, c.Claimed?.State)), Is.EqualTo(new[] { (lease.LeaseId, false, (LeaseState?)LeaseState.Revoking) }),
            "a kind the ledger does not revoke is claimed, as without a ledger revocation");
    }

    private async Task<Lease> PutChildAsync(string parentLeaseId)
    {
        var lease = NewLease(TimeSpan.FromMinutes(5), parentLeaseId: parentLeaseId);
        await Store.PutAsync(lease);
        return lease;
    }

    [Test]
    public async Task Mark_revoked_drops_the_lease_from_the_schedule_and_is_idempotent()
    {
        var lease = await PutAsync(TimeSpan.FromSeconds(1));
        var revokedAt = T0 + TimeSpan.FromMilliseconds(500);

        var first = await Store.MarkRevokedManyAsync([lease.LeaseId, "lease-never-stored"], revokedAt);
        var again = await Store.MarkRevokedManyAsync([lease.LeaseId], revokedAt + TimeSpan.FromMinutes(1));

        Assert.That(first, Is.EqualTo(new[] { true, false }), "only the call that changed the state says so; unknown is done");
        Assert.That(again, Is.EqualTo(new[] { false }));

        var stored = await GetAsync(lease.LeaseId);
        Assert.That((stored.State, stored.RevokedAt, stored.DueAt), Is.EqualTo((LeaseState.Revoked, (DateTimeOffset?)revokedAt, (DateTimeOffset?)null)));
        Assert.That(stored.IsLiveAt(revokedAt), Is.False);
        await AssertNothingScheduledAsync();
    }

    [Test]
    public async Task Mark_revoke_failed_counts_attempts_keeps_the_error_and_reschedules()
    {
        var lease = await PutAsync(TimeSpan.FromSeconds(1));
        var firstRetry = T0 + TimeSpan.FromSeconds(2);
        var secondRetry = T0 + TimeSpan.FromSeconds(6);

        await Store.MarkRevokeFailedAsync(lease.LeaseId, "vault 502", firstRetry);
        var afterFirst = await GetAsync(lease.LeaseId);
        await Store.MarkRevokeFailedAsync(lease.LeaseId, "vault 503", secondRetry);
        var afterSecond = await GetAsync(lease.LeaseId);

        Assert.That((afterFirst.State, afterFirst.Attempts, afterFirst.LastError, afterFirst.DueAt),
            Is.EqualTo((LeaseState.RevokeFailed, 1, "vault 502", (DateTimeOffset?)firstRetry)));
        Assert.That((afterSecond.State, afterSecond.Attempts, afterSecond.LastError, afterSecond.DueAt),
            Is.EqualTo((LeaseState.RevokeFailed, 2, "vault 503", (DateTimeOffset?)secondRetry)));
        await AssertDueExactlyAtAsync(secondRetry, lease.LeaseId);
    }

    [Test]
    public async Task A_late_failure_report_does_not_put_a_revoked_lease_back_on_the_schedule()
    {
        // EndTask and the sweeper can both hold a claim on one lease; the revoked outcome must win.
        var lease = await PutAsync(TimeSpan.FromSeconds(1));
        await Store.MarkOneRevokedAsync(lease.LeaseId, T0);

        await Store.MarkRevokeFailedAsync(lease.LeaseId, "timeout", T0 + TimeSpan.FromSeconds(5));
        await Store.MarkRevokeFailedAsync("lease-never-stored", "timeout", T0);

        Assert.That((await GetAsync(lease.LeaseId)).State, Is.EqualTo(LeaseState.Revoked));
        await AssertNothingScheduledAsync();
    }

    [Test]
    public async Task The_schedule_follows_expiry_and_a_revoked_lease_leaves_it()
    {
        await AssertNothingScheduledAsync();
        var early = await PutAsync(TimeSpan.FromSeconds(30));
        var late = await PutAsync(TimeSpan.FromSeconds(90));
        await AssertDueExactlyAtAsync(early.ExpiresAt, early.LeaseId);

        await Store.MarkOneRevokedAsync(early.LeaseId, T0);
        await Store.MarkOneRevokedAsync(late.LeaseId, T0);

        await AssertNothingScheduledAsync();
    }

    [Test]
    public async Task Revoking_the_earliest_lease_leaves_the_next_one_due_at_its_own_expiry()
    {
        var early = await PutAsync(TimeSpan.FromSeconds(30));
        var late = await PutAsync(TimeSpan.FromSeconds(90));

        await Store.MarkOneRevokedAsync(early.LeaseId, T0);

        await AssertDueExactlyAtAsync(late.ExpiresAt, late.LeaseId);
    }

    [Test]
    public async Task The_decided_intent_survives_claims_failures_and_renewal()
    {
        var lease = NewLease(TimeSpan.FromMinutes(5)) with { DecidedIntent = new DecidedIntent { Purpose = "triage", Context = new Dictionary<string, string> { ["risk"] = "2" } } };
        await Store.PutAsync(lease);

        var renewed = await Store.RenewAsync(lease.LeaseId, lease.ExpiresAt + TimeSpan.FromMinutes(1), lease.CredentialFingerprint);
        var claimed = await Store.TryClaimAsync(lease.LeaseId, T0, ClaimTimeout);
        await Store.MarkRevokeFailedAsync(lease.LeaseId, "backend down", T0 + TimeSpan.FromMinutes(1));
        var failed = await GetAsync(lease.LeaseId);

        foreach (var seen in new[] { renewed!, claimed!, failed })
        {
            Assert.That((seen.DecidedIntent.Purpose, seen.DecidedIntent.Context["risk"]), Is.EqualTo(("triage", "2")));
        }
    }
}
