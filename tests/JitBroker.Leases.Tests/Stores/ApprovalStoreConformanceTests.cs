using System.Collections.Concurrent;
using JitBroker.Core;
using Microsoft.Extensions.Time.Testing;
using NUnit.Framework;

namespace JitBroker.Leases.Tests.Stores;

/// <summary>The contract of <see cref="IApprovalStore"/>, run against every implementation.</summary>
public abstract class ApprovalStoreConformanceTests
{
    protected static readonly DateTimeOffset T0 = new(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);

    protected IApprovalStore Store { get; private set; } = null!;

    protected abstract Task<IApprovalStore> CreateStoreAsync(FakeTimeProvider clock);

    [SetUp]
    public async Task Create() => Store = await CreateStoreAsync(new FakeTimeProvider(T0));

    protected static ApprovalRecord NewApproval(string id, TimeSpan createdAfter = default, TimeSpan? expiresIn = null) => new()
    {
        ApprovalId = id,
        RequestHash = "sha256:" + new string('d', 64),
        AgentId = "spiffe://td/agents/a",
        Request = new CredentialRequest(
            "task-1",
            new TaskIntent("deploy", "ship release 1.2", ["kubectl"], ["cluster:prod"], new Dictionary<string, string> { ["ticket"] = "OPS-7" }),
            "jwt",
            "https://deploy.example",
            TimeSpan.FromMinutes(5)),
        RuleIds = ["rule-prod-deploy"],
        Approvers = ["admin:*"],
        CreatedAt = T0 + createdAfter,
        ExpiresAt = T0 + createdAfter + (expiresIn ?? TimeSpan.FromMinutes(15)),
    };

    [Test]
    public async Task Put_then_get_round_trips_every_field()
    {
        var approval = NewApproval("appr-1");

        await Store.PutAsync(approval);
        var stored = await Store.GetAsync("appr-1");

        Assert.That(stored, Is.Not.Null);
        Assert.That((stored!.ApprovalId, stored.RequestHash, stored.AgentId, stored.State, stored.CreatedAt, stored.ExpiresAt),
            Is.EqualTo((approval.ApprovalId, approval.RequestHash, approval.AgentId, ApprovalState.Pending, approval.CreatedAt, approval.ExpiresAt)));
        Assert.That((stored.Request.TaskId, stored.Request.CredentialKind, stored.Request.Target, stored.Request.RequestedTtl),
            Is.EqualTo((approval.Request.TaskId, approval.Request.CredentialKind, approval.Request.Target, approval.Request.RequestedTtl)));
        Assert.That((stored.Request.Intent.Action, stored.Request.Intent.Purpose), Is.EqualTo(("deploy", "ship release 1.2")));
        Assert.That((stored.Request.Intent.Tools, stored.Request.Intent.Resources), Is.EqualTo((new[] { "kubectl" }, new[] { "cluster:prod" })));
        Assert.That(stored.Request.Intent.Context, Is.EquivalentTo(approval.Request.Intent.Context));
        Assert.That((stored.RuleIds, stored.Approvers), Is.EqualTo((new[] { "rule-prod-deploy" }, new[] { "admin:*" })));
        Assert.That((stored.DecidedBy, stored.DecidedAt, stored.DecisionReason), Is.EqualTo(((string?)null, (DateTimeOffset?)null, (string?)null)));
    }

    [Test]
    public async Task Unknown_is_null_and_a_taken_id_is_refused()
    {
        await Store.PutAsync(NewApproval("appr-1"));

        Assert.That(await Store.GetAsync("appr-unknown"), Is.Null);
        Assert.ThrowsAsync<InvalidOperationException>(() => Store.PutAsync(NewApproval("appr-1") with { AgentId = "impostor" }));
        Assert.That((await Store.GetAsync("appr-1"))!.AgentId, Is.EqualTo("spiffe://td/agents/a"));
    }

    [Test]
    public async Task Pending_lists_unexpired_pending_approvals_oldest_first_up_to_max()
    {
        await Store.PutAsync(NewApproval("appr-3", TimeSpan.FromMinutes(3)));
        await Store.PutAsync(NewApproval("appr-1", TimeSpan.FromMinutes(1)));
        await Store.PutAsync(NewApproval("appr-expired", TimeSpan.Zero, TimeSpan.FromMinutes(2)));
        await Store.PutAsync(NewApproval("appr-2", TimeSpan.FromMinutes(2)));
        await Store.PutAsync(NewApproval("appr-decided", TimeSpan.FromMinutes(1)));
        var decided = (await Store.GetAsync("appr-decided"))! with { State = ApprovalState.Denied, DecidedBy = "admin:bob" };
        Assert.That(await Store.TransitionAsync(decided, ApprovalState.Pending), Is.True);
        var now = T0 + TimeSpan.FromMinutes(4);

        var pending = await Store.ListPendingAsync(now, 10);
        var firstTwo = await Store.ListPendingAsync(now, 2);

        Assert.That(pending.Select(a => a.ApprovalId), Is.EqualTo(new[] { "appr-1", "appr-2", "appr-3" }));
        Assert.That(firstTwo.Select(a => a.ApprovalId), Is.EqualTo(new[] { "appr-1", "appr-2" }));
        Assert.That(await Store.ListPendingAsync(now, 0), Is.Empty);
    }

    [Test]
    public async Task A_transition_is_a_compare_and_set_on_the_state()
    {
        await Store.PutAsync(NewApproval("appr-1"));
        var approved = (await Store.GetAsync("appr-1"))! with
        {
            State = ApprovalState.Approved, DecidedBy = "admin:alice", DecidedAt = T0 + TimeSpan.FromMinutes(1), DecisionReason = "looks right",
        };
        var denied = approved with { State = ApprovalState.Denied, DecidedBy = "admin:bob" };

        Assert.That(await Store.TransitionAsync(approved, ApprovalState.Pending), Is.True);
        Assert.That(await Store.TransitionAsync(denied, ApprovalState.Pending), Is.False, "no longer pending");
        var stored = (await Store.GetAsync("appr-1"))!;
        Assert.That((stored.State, stored.DecidedBy, stored.DecidedAt, stored.DecisionReason),
            Is.EqualTo((ApprovalState.Approved, "admin:alice", (DateTimeOffset?)(T0 + TimeSpan.FromMinutes(1)), "looks right")));

        Assert.That(await Store.TransitionAsync(stored with { State = ApprovalState.Consumed }, ApprovalState.Approved), Is.True);
        Assert.That(await Store.TransitionAsync(stored with { State = ApprovalState.Consumed }, ApprovalState.Approved), Is.False, "single use");
        Assert.That((await Store.GetAsync("appr-1"))!.State, Is.EqualTo(ApprovalState.Consumed));
        Assert.That(await Store.TransitionAsync(NewApproval("appr-missing") with { State = ApprovalState.Approved }, ApprovalState.Pending), Is.False);
        Assert.That(await Store.GetAsync("appr-missing"), Is.Null);
    }

    [Test]
    public async Task Racing_deciders_have_exactly_one_winner()
    {
        await Store.PutAsync(NewApproval("appr-race"));
        var pending = (await Store.GetAsync("appr-race"))!;
        var winners = new ConcurrentBag<string>();

        await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Task.Run(async () =>
        {
            var next = pending with { State = i % 2 == 0 ? ApprovalState.Approved : ApprovalState.Expired, DecidedBy = $"decider-{i}" };
            if (await Store.TransitionAsync(next, ApprovalState.Pending))
            {
                winners.Add(next.DecidedBy!);
            }
        })));

        Assert.That(winners, Has.Count.EqualTo(1));
        Assert.That((await Store.GetAsync("appr-race"))!.DecidedBy, Is.EqualTo(winners.Single()));
        Assert.That(await Store.ListPendingAsync(T0, 10), Is.Empty);
    }
}
