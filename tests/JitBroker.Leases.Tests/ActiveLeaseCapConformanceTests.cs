using JitBroker.Core;
using NUnit.Framework;

namespace JitBroker.Leases.Tests;

/// <summary>
/// The contract of <see cref="ILeaseLedger.PutWithinCapsAsync"/>, for every store: caps per agent and per task hold
/// under concurrency (count and insert are one atomic step), and a lease stops counting once revoked or expired.
/// Leases are placed as the broker places them (<see cref="LeaseIds.PlacementForAgent"/> for a per-agent cap).
/// </summary>
public abstract class ActiveLeaseCapConformanceTests : LeaseStoreSuite
{
    private const string Agent = "spiffe://dev.local/agent/looping";

    [Test]
    public async Task Sixty_four_concurrent_puts_never_take_an_agent_past_its_cap()
    {
        var caps = new ActiveLeaseCaps(PerAgent: 5, PerTask: null, T0);

        // Each on its own task, so only the per-agent count can stop them; all released at once.
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var attempts = Enumerable.Range(0, 64).Select(async i =>
        {
            await start.Task;
            return await TryPutAsync(AgentLease("task-" + i), caps);
        }).ToList();
        start.SetResult();
        var outcomes = await Task.WhenAll(attempts);

        Assert.That(outcomes.Count(o => o is null), Is.EqualTo(5), "exactly the cap was recorded");
        Assert.That(outcomes.Where(o => o is not null).Select(o => o!.Reason), Has.All.EqualTo(Reasons.Quota.ActiveLeasesPerAgent));
        Assert.That(outcomes.Where(o => o is not null).Select(o => o!.Failure), Has.All.EqualTo(BrokerFailure.ResourceExhausted));
        var recorded = await Store.ListAsync(new LeaseQuery { AgentId = Agent, PageSize = 1000 });
        Assert.That(recorded.Leases, Has.Count.EqualTo(5), "the refused puts left nothing behind");
    }

    [Test]
    public async Task Sixty_four_concurrent_puts_never_take_a_task_past_its_cap()
    {
        var caps = new ActiveLeaseCaps(PerAgent: null, PerTask: 3, T0);

        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var attempts = Enumerable.Range(0, 64).Select(async _ =>
        {
            await start.Task;
            return await TryPutAsync(TaskLease("task-busy"), caps);
        }).ToList();
        start.SetResult();
        var outcomes = await Task.WhenAll(attempts);

        Assert.That(outcomes.Count(o => o is null), Is.EqualTo(3));
        Assert.That(outcomes.Where(o => o is not null).Select(o => o!.Reason), Has.All.EqualTo(Reasons.Quota.ActiveLeasesPerTask));
        Assert.That(await Store.ListByTaskAsync(Agent, "task-busy"), Has.Count.EqualTo(3));
    }

    [Test]
    public async Task A_full_task_does_not_stop_the_agent_s_other_tasks()
    {
        var caps = new ActiveLeaseCaps(PerAgent: 10, PerTask: 1, T0);
        await Store.PutWithinCapsAsync(AgentLease("task-a"), caps);

        var refused = await TryPutAsync(AgentLease("task-a"), caps);
        var other = await TryPutAsync(AgentLease("task-b"), caps);

        Assert.That(refused?.Reason, Is.EqualTo(Reasons.Quota.ActiveLeasesPerTask));
        Assert.That(other, Is.Null, "another task of the same agent still has room");
    }

    [Test]
    public async Task A_revoked_lease_frees_its_place()
    {
        var caps = new ActiveLeaseCaps(PerAgent: 1, PerTask: 1, T0);
        var first = AgentLease("task-1");
        await Store.PutWithinCapsAsync(first, caps);
        Assert.That((await TryPutAsync(AgentLease("task-1"), caps))?.Reason, Is.EqualTo(Reasons.Quota.ActiveLeasesPerAgent));

        await Store.MarkRevokedManyAsync([first.LeaseId], T0);

        Assert.That(await TryPutAsync(AgentLease("task-1"), caps), Is.Null);
    }

    [Test]
    public async Task An_expired_lease_stops_counting_but_a_renewed_one_keeps_counting()
    {
        var expiring = AgentLease("task-1", TimeSpan.FromMinutes(1));
        var renewed = AgentLease("task-2", TimeSpan.FromMinutes(1));
        await Store.PutWithinCapsAsync(expiring, new ActiveLeaseCaps(2, null, T0));
        await Store.PutWithinCapsAsync(renewed, new ActiveLeaseCaps(2, null, T0));
        await Store.RenewAsync(renewed.LeaseId, T0 + TimeSpan.FromMinutes(10), renewed.CredentialFingerprint);

        var later = new ActiveLeaseCaps(2, null, T0 + TimeSpan.FromMinutes(2));

        Assert.That(await TryPutAsync(AgentLease("task-3"), later), Is.Null, "the expired lease's place is free");
        Assert.That((await TryPutAsync(AgentLease("task-4"), later))?.Reason, Is.EqualTo(Reasons.Quota.ActiveLeasesPerAgent),
            "the renewed lease and the new one fill the cap");
    }

    [Test]
    public async Task Leases_recorded_without_caps_count_against_them()
    {
        await Store.PutAsync(AgentLease("task-1"));
        await Store.PutAsync(AgentLease("task-1"));

        var refused = await TryPutAsync(AgentLease("task-1"), new ActiveLeaseCaps(PerAgent: null, PerTask: 2, T0));

        Assert.That(refused?.Reason, Is.EqualTo(Reasons.Quota.ActiveLeasesPerTask));
    }

    [Test]
    public async Task Caps_count_per_agent_not_across_agents()
    {
        var caps = new ActiveLeaseCaps(PerAgent: 1, PerTask: null, T0);
        await Store.PutWithinCapsAsync(AgentLease("task-1"), caps);

        var otherAgent = NewLease(TimeSpan.FromMinutes(5), Worker, "task-1", LeaseIds.New(LeaseIds.PlacementForAgent(Worker)));

        Assert.That(await TryPutAsync(otherAgent, caps), Is.Null);
    }

    /// <summary>A root lease placed as the broker places one under a per-agent cap.</summary>
    private static Lease AgentLease(string taskId, TimeSpan? expiresIn = null) =>
        NewLease(expiresIn ?? TimeSpan.FromMinutes(5), Agent, taskId, LeaseIds.New(LeaseIds.PlacementForAgent(Agent)));

    /// <summary>A root lease placed as the broker places one with only a per-task cap.</summary>
    private static Lease TaskLease(string taskId) =>
        NewLease(TimeSpan.FromMinutes(5), Agent, taskId, LeaseIds.New(LeaseIds.PlacementFor(Agent, taskId)));

    /// <summary>Null when recorded, else the refusal.</summary>
    private async Task<BrokerException?> TryPutAsync(Lease lease, ActiveLeaseCaps caps)
    {
        try
        {
            await Store.PutWithinCapsAsync(lease, caps);
            return null;
        }
        catch (BrokerException ex) when (ex.Failure == BrokerFailure.ResourceExhausted)
        {
            return ex;
        }
    }
}
