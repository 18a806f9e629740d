using JitBroker.Core;
using JitBroker.Core.Handlers;
using JitBroker.Leases;
using JitBroker.WebConsole;
using Microsoft.Extensions.Time.Testing;
using Moq;
using NUnit.Framework;

namespace JitBroker.Console.Tests;

/// <summary>
/// The decision rules a person meets on the console, through the same <see cref="ApprovalDecisionHandler"/> jitctl uses:
/// the rule's approver globs, self-approval (the agent itself, the rule's owner), single use, expiry; audited with the actor.
/// </summary>
public sealed class PersonDecisionTests
{
    private const string Agent = "spiffe://dev.jitbroker.local/agents/support-bot";
    private const string Provider = "https://login.corp.example";
    private FakeTimeProvider _time = null!;
    private ApprovalService _approvals = null!;
    private Mock<IAuditLog> _audit = null!;
    private ApprovalDecisionHandler _handler = null!;

    [SetUp]
    public void SetUp()
    {
        _time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-03T10:00:00Z"));
        _approvals = new ApprovalService(new InMemoryApprovalStore(), _time);
        _audit = new Mock<IAuditLog>();
        _handler = new ApprovalDecisionHandler(_approvals, _audit.Object);
    }

    private static ConsolePerson Person(string subject, string? email = null) =>
        new(ConsolePerson.PrincipalOf(Provider, subject), email ?? subject, email, null, [ConsoleRoles.Approver]);

    private async Task<string> OpenAsync(string owner = "bob@corp.example", string approvers = Provider + "#*")
    {
        var request = new CredentialRequest("task-1", new TaskIntent("tickets.refund", "refund order 42", ["refund"], ["order:42"],
            new Dictionary<string, string>()), "jwt", "https://tickets.internal.example", TimeSpan.FromMinutes(5));
        var decision = new PolicyDecision(DecisionEffect.NeedsApproval, null, ["refunds-need-approval"], "needs approval")
        {
            Approval = new ApprovalRequirement([approvers], TimeSpan.FromMinutes(15)),
            Owner = owner,
        };
        var agent = new WorkloadIdentity { Id = Agent, TrustDomain = "dev.jitbroker.local", Method = "jwt-svid", EvidenceFingerprint = "f" };
        var opened = await _approvals.CreateAsync(agent, request, "hash-1", decision);
        return opened.Record!.ApprovalId;
    }

    private static async Task<string> RefusalAsync(Func<Task> decide)
    {
        try
        {
            await decide();
            return "decided";
        }
        catch (BrokerException ex)
        {
            return ex.Reason;
        }
    }

    [Test]
    public async Task A_person_named_by_the_rules_approver_glob_approves_and_the_decision_is_audited_with_their_principal()
    {
        var id = await OpenAsync();
        AuditEvent? audited = null;
        _audit.Setup(a => a.AppendAsync(It.IsAny<AuditEvent>(), It.IsAny<CancellationToken>())).Callback<AuditEvent, CancellationToken>((e, _) => audited = e);

        var decided = await _handler.DecideAsync(Person("carol", "carol@corp.example").ToIdentity(), id, approve: true, "looks right");

        Assert.That(decided.State, Is.EqualTo(ApprovalState.Approved));
        Assert.That(decided.DecidedBy, Is.EqualTo(Provider + "#carol"));
        Assert.That(decided.Owner, Is.EqualTo("bob@corp.example"), "the rule's owner is kept on the approval for the console to show");
        Assert.That(audited?.Type, Is.EqualTo(AuditEventTypes.ApprovalDecided));
        Assert.That(audited?.Actor, Is.EqualTo(Provider + "#carol"));
        Assert.That(audited?.Detail, Does.Contain("looks right"));
    }

    [Test]
    public async Task The_rules_accountable_owner_may_not_approve_even_when_the_glob_names_them()
    {
        var id = await OpenAsync(owner: "Bob@Corp.Example");

        Assert.That(await RefusalAsync(() => _handler.DecideAsync(Person("bob", "bob@corp.example").ToIdentity(), id, true, "mine")),
            Is.EqualTo(Reasons.Approval.SelfApproval));
        Assert.That((await _approvals.GetAsync(id))!.State, Is.EqualTo(ApprovalState.Pending));
    }

    [Test]
    public async Task A_person_whose_principal_is_the_agents_id_is_refused_as_self_approval()
    {
        var id = await OpenAsync(approvers: "spiffe://dev.jitbroker.local/agents/*");
        var self = new ConsolePerson(Agent, "bot", null, null, [ConsoleRoles.Approver]);

        Assert.That(await RefusalAsync(() => _handler.DecideAsync(self.ToIdentity(), id, true, "me")), Is.EqualTo(Reasons.Approval.SelfApproval));
    }

    [Test]
    public async Task A_console_approver_the_rule_does_not_name_is_refused()
    {
        var id = await OpenAsync(approvers: "https://login.other.example#*");

        Assert.That(await RefusalAsync(() => _handler.DecideAsync(Person("carol").ToIdentity(), id, true, "ok")), Is.EqualTo(Reasons.Approval.NotAnApprover));
    }

    [Test]
    public async Task An_expired_approval_cannot_be_decided()
    {
        var id = await OpenAsync();
        _time.Advance(TimeSpan.FromMinutes(16));

        Assert.That(await RefusalAsync(() => _handler.DecideAsync(Person("carol").ToIdentity(), id, true, "late")), Is.EqualTo(Reasons.Approval.NotPending));
    }

    [Test]
    public async Task An_approval_is_decided_once_the_second_decision_is_refused()
    {
        var id = await OpenAsync();
        await _handler.DecideAsync(Person("carol").ToIdentity(), id, false, "no");

        Assert.That(await RefusalAsync(() => _handler.DecideAsync(Person("dave").ToIdentity(), id, true, "yes")), Is.EqualTo(Reasons.Approval.NotPending));
        Assert.That((await _approvals.GetAsync(id))!.State, Is.EqualTo(ApprovalState.Denied));
    }

    [Test]
    public async Task A_workload_admin_decides_as_before_when_the_rule_has_no_owner()
    {
        var id = await OpenAsync(owner: "", approvers: "spiffe://corp.example/humans/sre/*");
        var admin = new WorkloadIdentity { Id = "spiffe://corp.example/humans/sre/erin", TrustDomain = "corp.example", Method = "jwt-svid", EvidenceFingerprint = "f" };

        Assert.That((await _handler.DecideAsync(admin, id, true, "ok")).DecidedBy, Is.EqualTo(admin.Id));
    }
}
