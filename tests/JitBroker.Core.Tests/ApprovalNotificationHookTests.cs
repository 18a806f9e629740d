using JitBroker.Leases;
using Moq;
using NUnit.Framework;

namespace JitBroker.Core.Tests;

/// <summary>Issue 21 item 3: approvers are told once per approval — when it opens, never for a re-sent request or a refused one.</summary>
public sealed class ApprovalNotificationHookTests
{
    private static readonly WorkloadIdentity Agent = PipelineFixture.Identity(PipelineFixture.Agent, "agent-token");

    private static PolicyDecision NeedsApproval(CredentialRequest r) => PipelineFixture.Allow(r, TimeSpan.FromMinutes(5)) with
    {
        Effect = DecisionEffect.NeedsApproval,
        Approval = new ApprovalRequirement(["spiffe://example.org/humans/*"], TimeSpan.FromMinutes(15)),
        Owner = "payments-lead@example.org",
    };

    [Test]
    public async Task Only_a_newly_opened_approval_is_announced_with_the_rules_owner()
    {
        var notifications = new Mock<IApprovalNotifications>(MockBehavior.Strict);
        notifications.Setup(n => n.Opened(It.IsAny<ApprovalRecord>(), It.IsAny<string?>()));
        var service = new ApprovalService(new InMemoryApprovalStore(), TimeProvider.System, notifications.Object);
        var request = PipelineFixture.Request();

        var opened = await service.CreateAsync(Agent, request, "hash-1", NeedsApproval(request), maxPendingPerAgent: 1);
        var resent = await service.CreateAsync(Agent, request, "hash-1", NeedsApproval(request), maxPendingPerAgent: 1);
        var other = PipelineFixture.Request(task: "t2");
        Assert.ThrowsAsync<BrokerException>(() => service.CreateAsync(Agent, other, "hash-2", NeedsApproval(other), maxPendingPerAgent: 1),
            "the agent's cap is reached: nothing opens");

        Assert.That((opened.Outcome, resent.Outcome), Is.EqualTo((ApprovalOpening.Created, ApprovalOpening.Duplicate)));
        Assert.That(resent.Record!.ApprovalId, Is.EqualTo(opened.Record!.ApprovalId));
        notifications.Verify(n => n.Opened(It.Is<ApprovalRecord>(a => a.ApprovalId == opened.Record.ApprovalId && a.State == ApprovalState.Pending),
            "payments-lead@example.org"), Times.Once);
        notifications.VerifyNoOtherCalls();
    }
}
