using JitBroker.Core;
using JitBroker.Leases.Redis;
using JitBroker.Leases.Tests.Redis;
using Microsoft.Extensions.Time.Testing;
using NUnit.Framework;

namespace JitBroker.Leases.Tests.Stores;

/// <summary>
/// The contract of <see cref="IApprovalStore.OpenPendingAsync"/>, for every store: an identical request reuses the agent's
/// pending approval, the per-agent cap holds under concurrency, and decided or expired approvals stop counting.
/// </summary>
public abstract class PendingApprovalCapConformanceTests
{
    private const string Agent = "spiffe://td/agents/looping";
    private static readonly DateTimeOffset T0 = new(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);

    private IApprovalStore Store { get; set; } = null!;

    protected abstract Task<IApprovalStore> CreateStoreAsync(FakeTimeProvider clock);

    [SetUp]
    public async Task Create() => Store = await CreateStoreAsync(new FakeTimeProvider(T0));

    [Test]
    public async Task An_identical_request_gets_the_agent_s_pending_approval_and_stores_nothing()
    {
        var first = await Store.OpenPendingAsync(Approval("apr-1", "hash-1"), 5, T0);

        var again = await Store.OpenPendingAsync(Approval("apr-2", "hash-1"), 5, T0);

        Assert.That(first.Outcome, Is.EqualTo(ApprovalOpening.Created));
        Assert.That((again.Outcome, again.Record?.ApprovalId), Is.EqualTo((ApprovalOpening.Duplicate, "apr-1")));
        Assert.That(await Store.GetAsync("apr-2"), Is.Null);
    }

    [Test]
    public async Task Sixty_four_concurrent_openings_never_take_an_agent_past_its_cap()
    {
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var attempts = Enumerable.Range(0, 64).Select(async i =>
        {
            await start.Task;
            return await Store.OpenPendingAsync(Approval("apr-" + i, "hash-" + i), 3, T0);
        }).ToList();
        start.SetResult();
        var outcomes = await Task.WhenAll(attempts);

        Assert.That(outcomes.Count(o => o.Outcome == ApprovalOpening.Created), Is.EqualTo(3));
        Assert.That(outcomes.Count(o => o.Outcome == ApprovalOpening.CapReached), Is.EqualTo(61));
        Assert.That((await Store.ListPendingAsync(T0, 100)).Count(a => a.AgentId == Agent), Is.EqualTo(3));
    }

    [Test]
    public async Task Decided_and_expired_approvals_free_their_place()
    {
        var decided = Approval("apr-1", "hash-1");
        await Store.OpenPendingAsync(decided, 2, T0);
        await Store.OpenPendingAsync(Approval("apr-2", "hash-2", TimeSpan.FromMinutes(1)), 2, T0);
        Assert.That((await Store.OpenPendingAsync(Approval("apr-3", "hash-3"), 2, T0)).Outcome, Is.EqualTo(ApprovalOpening.CapReached));

        await Store.TransitionAsync(decided with { State = ApprovalState.Denied }, ApprovalState.Pending);
        var afterDecision = await Store.OpenPendingAsync(Approval("apr-3", "hash-3"), 2, T0);
        var afterExpiry = await Store.OpenPendingAsync(Approval("apr-4", "hash-4"), 2, T0 + TimeSpan.FromMinutes(2));

        Assert.That(afterDecision.Outcome, Is.EqualTo(ApprovalOpening.Created));
        Assert.That(afterExpiry.Outcome, Is.EqualTo(ApprovalOpening.Created));
    }

    [Test]
    public async Task The_cap_counts_per_agent_and_none_means_no_cap()
    {
        await Store.OpenPendingAsync(Approval("apr-1", "hash-1"), 1, T0);

        var otherAgent = await Store.OpenPendingAsync(Approval("apr-2", "hash-2") with { AgentId = "spiffe://td/agents/b" }, 1, T0);
        var uncapped = await Store.OpenPendingAsync(Approval("apr-3", "hash-3"), null, T0);

        Assert.That(otherAgent.Outcome, Is.EqualTo(ApprovalOpening.Created));
        Assert.That(uncapped.Outcome, Is.EqualTo(ApprovalOpening.Created));
    }

    private static ApprovalRecord Approval(string id, string requestHash, TimeSpan? expiresIn = null) => new()
    {
        ApprovalId = id,
        RequestHash = requestHash,
        AgentId = Agent,
        Request = new CredentialRequest("task-1", new TaskIntent("deploy", "ship", ["kubectl"], ["cluster:prod"], new Dictionary<string, string>()),
            "jwt", "https://deploy.example", TimeSpan.FromMinutes(5)),
        RuleIds = ["rule-prod-deploy"],
        Approvers = ["admin:*"],
        CreatedAt = T0,
        ExpiresAt = T0 + (expiresIn ?? TimeSpan.FromMinutes(15)),
    };
}

[TestFixture]
public sealed class InMemoryPendingApprovalCapConformanceTests : PendingApprovalCapConformanceTests
{
    protected override Task<IApprovalStore> CreateStoreAsync(FakeTimeProvider clock) => Task.FromResult<IApprovalStore>(new InMemoryApprovalStore());
}

[TestFixture]
[CancelAfter(60_000)]
public sealed class RedisPendingApprovalCapConformanceTests : PendingApprovalCapConformanceTests
{
    protected override async Task<IApprovalStore> CreateStoreAsync(FakeTimeProvider clock) =>
        new RedisApprovalStore(await SharedRedis.ConnectionAsync(), SharedRedis.NewPrefix(), clock);
}

[TestFixture]
[CancelAfter(120_000)]
public sealed class ClusterPendingApprovalCapConformanceTests : PendingApprovalCapConformanceTests
{
    protected override async Task<IApprovalStore> CreateStoreAsync(FakeTimeProvider clock) =>
        new RedisApprovalStore(await SharedCluster.ConnectionAsync(), SharedCluster.NewLayout().ApprovalPrefix, clock);
}
