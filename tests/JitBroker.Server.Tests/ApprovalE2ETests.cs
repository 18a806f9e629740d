using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;
using JitBroker.Cli;
using JitBroker.Protocol.V1;
using Grpc.Core;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// Issue 4, step-up approval end to end: a rule with <c>approval</c> answers pending, an approver decides through
/// jitctl, the agent collects exactly once — and cannot approve itself, replay the approval, or change the request.
/// </summary>
[NonParallelizable]
public sealed class ApprovalE2ETests
{
    private PolicyDirectory _policy = null!;
    private BrokerServerFixture _broker = null!;
    private BrokerClient _client = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _policy = new PolicyDirectory().Write("20-approvals.yaml", E2E.ApprovalPolicy);
        _broker = await BrokerServerFixture.StartAsync(new Dictionary<string, string?>
        {
            ["JitBroker:Admin:Principals:0"] = E2E.AdminPattern,
            ["JitBroker:Admin:Principals:1"] = "spiffe://dev.jitbroker.local/humans/leads/*",
            ["JitBroker:Admin:Principals:2"] = E2E.SelfApprover, // an agent that is also an operator and a listed approver
            ["JitBroker:Policy:Path"] = _policy.Path,
        });
        _client = _broker.Client();
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        _client.Dispose();
        await _broker.DisposeAsync();
        _policy.Dispose();
    }

    private Task<CliResult> AsLead(params string[] args) => Jitctl.RunAsync(_broker.GrpcUri, E2E.AdminSvid(_broker, E2E.Lead), args);

    private async Task<(string Svid, string ApprovalId)> PendingAsync(string agent, string task)
    {
        var svid = _broker.Svid(agent);
        var response = await _client.RequestCredentialAsync(svid, E2E.Refund(task));
        Assert.That(response.PendingApproval, Is.Not.Null, "the rule needs approval");
        return (svid, response.PendingApproval.ApprovalId);
    }

    [Test]
    public async Task Pending_then_approved_through_jitctl_then_collected_exactly_once()
    {
        var agent = E2E.Agent("refunder");
        var svid = _broker.Svid(agent);
        var pending = await _client.RequestCredentialAsync(svid, E2E.Refund("apr-1"));
        Assert.Multiple(() =>
        {
            Assert.That(pending.PendingApproval.ApprovalId, Does.StartWith("apr_"));
            Assert.That(pending.PendingApproval.Approvers, Does.Contain("spiffe://dev.jitbroker.local/humans/leads/*"));
            Assert.That(pending.PendingApproval.RuleIds, Is.EqualTo(new[] { "refunds-need-approval" }));
            Assert.That(pending.Credential, Is.Null, "no credential before approval");
            Assert.That(pending.LeaseId, Is.Empty);
        });
        var id = pending.PendingApproval.ApprovalId;
        using (var admin = E2E.Admin(_broker))
        {
            Assert.That(await E2E.LeasesOfAsync(admin, agent), Is.Empty, "no lease either");
        }

        var list = await AsLead("approvals", "list", "--json");
        Assert.That(list.Code, Is.Zero, list.ToString());
        var listed = list.Json().GetProperty("approvals").EnumerateArray().Single(a => a.GetProperty("approvalId").GetString() == id);
        Assert.That((listed.GetProperty("agentId").GetString(), listed.GetProperty("action").GetString()), Is.EqualTo((agent, "payments.refund")));
        Assert.That((await AsLead("approvals", "list")).Out, Does.Contain(id));

        var show = await AsLead("approvals", "show", id, "--json");
        Assert.That(show.Code, Is.Zero, show.ToString());
        var canonical = show.Json();
        Assert.Multiple(() =>
        {
            Assert.That(canonical.GetProperty("state").GetString(), Is.EqualTo("pending"));
            Assert.That(canonical.GetProperty("agentId").GetString(), Is.EqualTo(agent), "the attested agent, not a claim");
            Assert.That(canonical.GetProperty("taskId").GetString(), Is.EqualTo("apr-1"));
            Assert.That(canonical.GetProperty("audience").GetString(), Is.EqualTo(E2E.PaymentsAudience));
            Assert.That(canonical.GetProperty("resources").EnumerateArray().Select(r => r.GetString()), Is.EqualTo(new[] { "orders/7" }));
            Assert.That(canonical.GetProperty("purpose").GetString(), Is.EqualTo("customer was double charged"));
            Assert.That(canonical.GetProperty("ttlSeconds").GetString(), Is.EqualTo("120"), "the TTL the broker would grant");
            Assert.That(canonical.GetProperty("requestHash").GetString(), Is.Not.Empty);
        });
        Assert.That((await AsLead("approvals", "show", id)).Out, Does.Contain("request hash").And.Contain("orders/7"));

        var approve = await AsLead("approvals", "approve", id, "--reason", "checked the order", "--json");
        Assert.That(approve.Code, Is.Zero, approve.ToString());
        Assert.That((approve.Json().GetProperty("state").GetString(), approve.Json().GetProperty("decidedBy").GetString()), Is.EqualTo(("approved", E2E.Lead)));

        var granted = await _client.RequestCredentialAsync(svid, E2E.Refund("apr-1", approvalId: id));
        Assert.That(granted.LeaseId, Does.StartWith("lease_"));
        Assert.That(granted.RuleIds, Is.EqualTo(new[] { "refunds-need-approval" }));
        Assert.That(await E2E.IsActiveAsync(_broker, _client, granted.Credential.Token), Is.True);

        var replay = Assert.ThrowsAsync<RpcException>(() => _client.RequestCredentialAsync(svid, E2E.Refund("apr-1", approvalId: id)));
        Assert.That((replay!.StatusCode, E2E.Reason(replay)), Is.EqualTo((StatusCode.PermissionDenied, "approval.already_used")));
        Assert.That((await AsLead("approvals", "list", "--json")).Out, Does.Not.Contain(id), "a used approval is no longer pending");
        var twice = await AsLead("approvals", "approve", id);
        Assert.That(twice.Code, Is.EqualTo(7), "deciding again is refused (FAILED_PRECONDITION): " + twice);
    }

    [Test]
    public async Task An_agent_that_is_admin_and_approver_cannot_approve_its_own_request()
    {
        var (svid, id) = await PendingAsync(E2E.SelfApprover, "apr-self");

        using var self = E2E.Admin(_broker, E2E.SelfApprover);
        var ex = Assert.ThrowsAsync<RpcException>(() => self.DecideApprovalAsync(id, approve: true, "trust me"));
        Assert.That((ex!.StatusCode, E2E.Reason(ex)), Is.EqualTo((StatusCode.PermissionDenied, "approval.self_approval")));
        var cli = await Jitctl.RunAsync(_broker.GrpcUri, _broker.Svid(E2E.SelfApprover), "approvals", "approve", id);
        Assert.That(cli.Code, Is.EqualTo(4), cli.ToString());

        Assert.That((await self.GetApprovalAsync(id)).State, Is.EqualTo("pending"), "still undecided");
        var response = await _client.RequestCredentialAsync(svid, E2E.Refund("apr-self", approvalId: id));
        Assert.That(response.PendingApproval, Is.Not.Null, "no credential for a self-approved request");
    }

    [Test]
    public async Task An_admin_not_named_by_the_rule_cannot_approve()
    {
        var (_, id) = await PendingAsync(E2E.Agent("refunder-2"), "apr-other");
        var alice = await Jitctl.RunAsync(_broker.GrpcUri, E2E.AdminSvid(_broker), "approvals", "approve", id);
        Assert.That(alice.Code, Is.EqualTo(4), alice.ToString());
        Assert.That(alice.Err, Does.Contain("PERMISSION_DENIED"));
    }

    [Test]
    public async Task A_denied_request_is_refused_with_the_approvers_reason()
    {
        var (svid, id) = await PendingAsync(E2E.Agent("refunder-3"), "apr-deny");
        var deny = await AsLead("approvals", "deny", id, "--reason", "order already refunded");
        Assert.That(deny.Code, Is.Zero, deny.ToString());
        Assert.That(deny.Out, Does.Contain("denied"));

        var ex = Assert.ThrowsAsync<RpcException>(() => _client.RequestCredentialAsync(svid, E2E.Refund("apr-deny", approvalId: id)));
        Assert.That((ex!.StatusCode, E2E.Reason(ex)), Is.EqualTo((StatusCode.PermissionDenied, "approval.denied")));
        Assert.That(ex.Status.Detail, Does.Contain("order already refunded"));
    }

    [Test]
    public async Task An_approval_is_bound_to_the_exact_request()
    {
        var (svid, id) = await PendingAsync(E2E.Agent("refunder-4"), "apr-bind");
        Assert.That((await AsLead("approvals", "approve", id)).Code, Is.Zero);

        var widened = Assert.ThrowsAsync<RpcException>(() => _client.RequestCredentialAsync(svid, E2E.Refund("apr-bind", order: "orders/8", approvalId: id)));
        Assert.That((widened!.StatusCode, E2E.Reason(widened)), Is.EqualTo((StatusCode.PermissionDenied, "approval.request_mismatch")));
        var thief = Assert.ThrowsAsync<RpcException>(() => _client.RequestCredentialAsync(_broker.Svid(E2E.Agent("thief")), E2E.Refund("apr-bind", approvalId: id)));
        Assert.That(E2E.Reason(thief!), Is.EqualTo("approval.not_found"), "another agent cannot use it");
        Assert.That((await _client.RequestCredentialAsync(svid, E2E.Refund("apr-bind", approvalId: id))).LeaseId, Does.StartWith("lease_"),
            "the exact request still collects it");
    }

    [Test]
    public async Task An_agent_waiting_on_its_approval_gets_the_credential_when_an_approver_approves()
    {
        var (svid, id) = await PendingAsync(E2E.Agent("patient"), "apr-wait");

        var waiting = _client.RequestCredentialAsync(svid, E2E.Refund("apr-wait", approvalId: id, wait: TimeSpan.FromSeconds(20)), TimeSpan.FromSeconds(30));
        await Task.Delay(500); // give the call time to reach the broker and start waiting
        Assert.That(waiting.IsCompleted, Is.False, "the agent is waiting for a decision, not answered pending at once");
        using var lead = E2E.Admin(_broker, E2E.Lead);
        await lead.DecideApprovalAsync(id, approve: true, "ok");

        var granted = await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(granted.LeaseId, Does.StartWith("lease_"));
        Assert.That(granted.Credential.Token, Is.Not.Empty);
    }

    /// <summary>
    /// Server-side deadline enforcement: the call is sent with a raw HTTP/2 client that only carries the
    /// <c>grpc-timeout</c> header (no client-side deadline timer at all), so DEADLINE_EXCEEDED can only come from
    /// the server. The handler is waiting on an approval (20 s) well past the deadline (300 ms); the answer arrives
    /// after the deadline, not at once, and the handler's cancelled token ends the wait: approving afterwards
    /// mints nothing in the background, and the agent can still collect the approval itself.
    /// </summary>
    [Test]
    public async Task A_deadline_shorter_than_the_approval_wait_is_enforced_by_the_server_and_the_wait_ends()
    {
        var agent = E2E.Agent("deadline-waiter");
        var (svid, id) = await PendingAsync(agent, "apr-deadline");

        var clock = Stopwatch.StartNew();
        var answer = await RawGrpcCall.UnaryAsync(_broker.GrpcUri, "/jitbroker.v1.CredentialBroker/RequestCredential",
            E2E.Refund("apr-deadline", approvalId: id, wait: TimeSpan.FromSeconds(20)), svid, "300m");
        clock.Stop();
        Assert.Multiple(() =>
        {
            Assert.That(answer.Http, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(answer.GrpcStatus, Is.EqualTo(((int)StatusCode.DeadlineExceeded).ToString()), "the server's own DEADLINE_EXCEEDED");
            Assert.That(answer.Body, Is.Empty, "no response message");
            Assert.That(clock.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(250)), "the handler was running until the deadline");
            Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)), "not the 20 s approval wait");
        });

        // The broker is healthy and the approval untouched.
        using var lead = E2E.Admin(_broker, E2E.Lead);
        Assert.That((await lead.GetApprovalAsync(id)).State, Is.EqualTo("pending"));
        using (var readiness = new HttpClient())
        {
            Assert.That((await readiness.GetAsync(new Uri(_broker.HttpUri, "/readyz"))).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }

        // Had the handler kept waiting after its deadline, this approval would be collected by it (a lease nobody receives).
        await lead.DecideApprovalAsync(id, approve: true, "after the deadline");
        await Task.Delay(1000); // five of the waiter's poll intervals
        using (var admin = E2E.Admin(_broker))
        {
            Assert.That(await E2E.LeasesOfAsync(admin, agent), Is.Empty, "nothing was issued by the abandoned wait");
        }

        Assert.That((await lead.GetApprovalAsync(id)).State, Is.EqualTo("approved"), "approved, not consumed");
        var collected = await _client.RequestCredentialAsync(svid, E2E.Refund("apr-deadline", approvalId: id));
        Assert.That(collected.LeaseId, Does.StartWith("lease_"), "the agent itself still collects it, exactly once");
    }

    [Test]
    public async Task A_bounded_wait_without_a_decision_answers_pending_again()
    {
        var (svid, id) = await PendingAsync(E2E.Agent("impatient"), "apr-timeout");
        var response = await _client.RequestCredentialAsync(svid, E2E.Refund("apr-timeout", approvalId: id, wait: TimeSpan.FromSeconds(1)));
        Assert.That(response.PendingApproval?.ApprovalId, Is.EqualTo(id));
        Assert.That(response.Credential, Is.Null);
    }
}
