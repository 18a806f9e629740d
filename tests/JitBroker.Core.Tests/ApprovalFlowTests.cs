using JitBroker.Core;
using JitBroker.Core.Handlers;
using NUnit.Framework;

namespace JitBroker.Core.Tests;

public sealed class ApprovalFlowTests
{
    private static PipelineFixture NeedsApproval()
    {
        var f = new PipelineFixture();
        f.Decide = (_, r) => PipelineFixture.Allow(r, TimeSpan.FromMinutes(5)) with
        {
            Effect = DecisionEffect.NeedsApproval,
            Approval = new ApprovalRequirement(["spiffe://example.org/humans/*"], TimeSpan.FromMinutes(15)),
            Reason = "production changes need a human",
        };
        return f;
    }

    private static WorkloadIdentity Human(string id = PipelineFixture.Human) => PipelineFixture.Identity(id, "human-token");

    [Test]
    public async Task Approved_request_is_collected_once_by_resubmitting_the_same_request()
    {
        var f = NeedsApproval();
        var pending = (await f.RequestCredential.HandleAsync(f.Token(), PipelineFixture.Request())).PendingApproval!;
        Assert.That(pending.State, Is.EqualTo(ApprovalState.Pending));
        Assert.That((await f.Approvals.ListPendingAsync(10)).Select(a => a.ApprovalId), Is.EqualTo(new[] { pending.ApprovalId }));
        Assert.That(pending.Request.Intent.Action, Is.EqualTo("tickets.create"), "the approver sees the canonical request");

        await f.Approvals.DecideAsync(Human(), pending.ApprovalId, approve: true, "ok for INC-42");
        var ticket = new ApprovalTicket(pending.ApprovalId, TimeSpan.Zero);
        var issued = await f.RequestCredential.HandleAsync(f.Token(), PipelineFixture.Request(), ticket);
        Assert.That(issued.Granted, Is.Not.Null);

        var again = Assert.ThrowsAsync<BrokerException>(() => f.RequestCredential.HandleAsync(f.Token(), PipelineFixture.Request(), ticket).AsTask());
        Assert.That(again!.Reason, Is.EqualTo(Reasons.Approval.AlreadyUsed), "an approval is single-use");
        Assert.That(f.Audit.OfType(AuditEventTypes.ApprovalRequested).Count(), Is.EqualTo(1));
    }

    [Test]
    public async Task An_approval_is_bound_to_the_exact_request()
    {
        var f = NeedsApproval();
        var pending = (await f.RequestCredential.HandleAsync(f.Token(), PipelineFixture.Request(tools: "zendesk"))).PendingApproval!;
        await f.Approvals.DecideAsync(Human(), pending.ApprovalId, approve: true, "ok");

        var widened = PipelineFixture.Request(tools: ["zendesk", "prod-db"]);
        var ex = Assert.ThrowsAsync<BrokerException>(() =>
            f.RequestCredential.HandleAsync(f.Token(), widened, new ApprovalTicket(pending.ApprovalId, TimeSpan.Zero)).AsTask());
        Assert.That(ex!.Reason, Is.EqualTo(Reasons.Approval.RequestMismatch));
    }

    [Test]
    public async Task The_agent_can_never_approve_its_own_request()
    {
        var f = NeedsApproval();
        var pending = (await f.RequestCredential.HandleAsync(f.Token(), PipelineFixture.Request())).PendingApproval!;
        var self = PipelineFixture.Identity(PipelineFixture.Agent, "agent-token");
        f.Decide = (_, r) => PipelineFixture.Allow(r, TimeSpan.FromMinutes(5));

        var ex = Assert.ThrowsAsync<BrokerException>(() => f.Approvals.DecideAsync(self, pending.ApprovalId, true, "me"));
        Assert.That(ex!.Reason, Is.EqualTo(Reasons.Approval.SelfApproval));
    }

    [Test]
    public async Task Only_approvers_named_by_the_rule_may_decide()
    {
        var f = NeedsApproval();
        var pending = (await f.RequestCredential.HandleAsync(f.Token(), PipelineFixture.Request())).PendingApproval!;

        var ex = Assert.ThrowsAsync<BrokerException>(() =>
            f.Approvals.DecideAsync(PipelineFixture.Identity("spiffe://example.org/agents/other", "t"), pending.ApprovalId, true, "sure"));
        Assert.That(ex!.Reason, Is.EqualTo(Reasons.Approval.NotAnApprover));
    }

    [Test]
    public async Task Denied_and_expired_approvals_yield_no_credential()
    {
        var f = NeedsApproval();
        var denied = (await f.RequestCredential.HandleAsync(f.Token(), PipelineFixture.Request("t-denied"))).PendingApproval!;
        await f.Approvals.DecideAsync(Human(), denied.ApprovalId, approve: false, "not during the freeze");
        var ex = Assert.ThrowsAsync<BrokerException>(() =>
            f.RequestCredential.HandleAsync(f.Token(), PipelineFixture.Request("t-denied"), new ApprovalTicket(denied.ApprovalId, TimeSpan.Zero)).AsTask());
        Assert.That(ex!.Reason, Is.EqualTo(Reasons.Approval.Denied));
        Assert.That(ex.Message, Does.Contain("freeze"));

        var late = (await f.RequestCredential.HandleAsync(f.Token(), PipelineFixture.Request("t-late"))).PendingApproval!;
        await f.Approvals.DecideAsync(Human(), late.ApprovalId, approve: true, "ok");
        f.Time.Advance(TimeSpan.FromMinutes(16));
        ex = Assert.ThrowsAsync<BrokerException>(() =>
            f.RequestCredential.HandleAsync(f.Token(), PipelineFixture.Request("t-late"), new ApprovalTicket(late.ApprovalId, TimeSpan.Zero)).AsTask());
        Assert.That(ex!.Reason, Is.EqualTo(Reasons.Approval.Expired));
    }

    [Test]
    public async Task Two_approvers_racing_cannot_both_win()
    {
        var f = NeedsApproval();
        var pending = (await f.RequestCredential.HandleAsync(f.Token(), PipelineFixture.Request())).PendingApproval!;
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(async () =>
        {
            try
            {
                await f.Approvals.DecideAsync(Human($"spiffe://example.org/humans/h{i}"), pending.ApprovalId, i % 2 == 0, "r");
                return true;
            }
            catch (BrokerException)
            {
                return false;
            }
        })));
        Assert.That(results.Count(r => r), Is.EqualTo(1));
    }

    [Test]
    public async Task Waiting_on_a_pending_approval_returns_pending_when_the_wait_runs_out()
    {
        var f = NeedsApproval();
        var pending = (await f.RequestCredential.HandleAsync(f.Token(), PipelineFixture.Request())).PendingApproval!;
        var outcome = await f.RequestCredential.HandleAsync(f.Token(), PipelineFixture.Request(), new ApprovalTicket(pending.ApprovalId, TimeSpan.Zero));
        Assert.That(outcome.PendingApproval?.ApprovalId, Is.EqualTo(pending.ApprovalId));
        Assert.That(outcome.Granted, Is.Null);
    }
}
