using System.Diagnostics;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using JitBroker.Cli;
using JitBroker.Protocol.V1;
using JitBroker.Server.Tests;
using NUnit.Framework;

namespace JitBroker.Console.Tests.InBrowser;

/// <summary>
/// Issue 21 item 6, the approver's side in a real browser: an agent's request waits for approval, a person signs in at the
/// organisation's provider, reads the request on <c>/console/approvals</c> and decides; the agent, waiting with
/// <c>await_approval</c>, gets its answer at once. The rule's owner cannot approve it.
/// </summary>
public sealed class ApprovalBrowserTests : ConsoleBrowserSuite
{
    private const string Purpose = "customer was double charged";

    private static RequestCredentialRequest Refund(string task, string approvalId = "", TimeSpan? wait = null)
    {
        var request = RefundRequest(task, "orders/7", Purpose);
        request.ApprovalId = approvalId;
        request.AwaitApproval = wait is null ? null : Duration.FromTimeSpan(wait.Value);
        return request;
    }

    /// <summary>The agent asks; the rule needs approval; the agent then waits on it (as an agent runtime does).</summary>
    private async Task<(string ApprovalId, Task<RequestCredentialResponse> Waiting)> AgentWaitsAsync(string agent, string task)
    {
        var svid = Site.Broker.Svid(agent);
        var pending = await Agent.RequestCredentialAsync(svid, Refund(task));
        Assert.That(pending.PendingApproval, Is.Not.Null, "the rule needs approval");
        var id = pending.PendingApproval.ApprovalId;
        var waiting = Agent.RequestCredentialAsync(svid, Refund(task, id, TimeSpan.FromSeconds(60)), TimeSpan.FromSeconds(90));
        await Task.Delay(300);
        Assert.That(waiting.IsCompleted, Is.False, "the agent is waiting for a person");
        return (id, waiting);
    }

    /// <summary>Signs <paramref name="login"/> in, finds the approval in the list and opens it.</summary>
    private static void OpenApproval(Browser browser, ConsoleSite site, string login, string id)
    {
        ConsolePeople.SignIn(browser, site, login, "/console/approvals");
        Assert.That(ConsolePeople.PageName(browser), Is.EqualTo("approvals"), browser.Text);
        var row = browser.WaitFor($"tr[data-approval-id='{id}']");
        browser.Shot("approvals");
        row.FindElement(OpenQA.Selenium.By.CssSelector("a")).Click();
        browser.WaitFor("#approval-canonical");
        Assert.That(ConsolePeople.PageName(browser), Is.EqualTo("approval"));
        browser.Shot("approval");
    }

    [Test]
    public async Task An_approver_signs_in_reads_the_request_approves_and_the_waiting_agent_gets_its_credential_within_a_second()
    {
        var agent = E2E.Agent("console-refunder");
        var (id, waiting) = await AgentWaitsAsync(agent, "console-apr-1");
        using var browser = Browser.Start();
        OpenApproval(browser, Site, "alice", id);

        string Shown(string field) => browser.Find("#approval-" + field).Text;
        Assert.Multiple(() =>
        {
            Assert.That(Shown("agent"), Is.EqualTo(agent));
            Assert.That(Shown("owner"), Is.EqualTo("owen@corp.example"));
            Assert.That(Shown("action"), Is.EqualTo("payments.refund"));
            Assert.That(Shown("purpose"), Is.EqualTo(Purpose));
            Assert.That(Shown("tools"), Is.EqualTo("stripe"));
            Assert.That(Shown("resources"), Is.EqualTo("orders/7"));
            Assert.That(Shown("rules"), Is.EqualTo("refunds-need-approval"));
            Assert.That(Shown("state"), Is.EqualTo("pending"));
            var canonical = System.Text.Json.JsonDocument.Parse(Shown("canonical")).RootElement;
            Assert.That(canonical.GetProperty("agent_id").GetString(), Is.EqualTo(agent));
            Assert.That(canonical.GetProperty("task_id").GetString(), Is.EqualTo("console-apr-1"));
            Assert.That(canonical.GetProperty("target").GetString(), Is.EqualTo(E2E.PaymentsAudience));
            Assert.That(canonical.GetProperty("ttl_seconds").GetInt64(), Is.EqualTo(120));
            Assert.That(canonical.GetProperty("intent").GetProperty("resources")[0].GetString(), Is.EqualTo("orders/7"));
            Assert.That(canonical.GetProperty("request_hash").GetString(), Is.Not.Empty);
        });

        browser.Find("textarea[name=reason]").SendKeys("checked the order: charged twice");
        var clock = Stopwatch.StartNew();
        browser.Find("#approve").Click();
        var granted = await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        var latency = clock.Elapsed;
        TestContext.Out.WriteLine($"click to credential: {latency.TotalMilliseconds:0} ms");

        Assert.That(granted.LeaseId, Does.StartWith("lease_"));
        Assert.That(granted.Credential.Token, Is.Not.Empty);
        Assert.That(latency, Is.LessThan(TimeSpan.FromSeconds(2)), "the waiting agent gets its credential within about a second of the click");
        var result = browser.WaitFor("#decision-result");
        browser.Shot("decided");
        Assert.That(result.GetAttribute("data-state"), Is.EqualTo("approved"));
        Assert.That(result.Text, Does.Contain("checked the order: charged twice"));
        Assert.That(browser.Text, Does.Not.Contain(granted.Credential.Token), "no credential is ever rendered");

        using var admin = Site.Admin();
        var record = await admin.GetApprovalAsync(id);
        Assert.That((record.State, record.DecidedBy), Is.EqualTo(("consumed", Site.Idp.IssuerName + "#alice")),
            "decided under the person's identity, and already collected by the agent");
    }

    [Test]
    public async Task An_approver_denies_and_the_waiting_agent_is_refused_with_the_reason()
    {
        var (id, waiting) = await AgentWaitsAsync(E2E.Agent("console-denied"), "console-apr-2");
        using var browser = Browser.Start();
        OpenApproval(browser, Site, "alice", id);

        browser.Find("textarea[name=reason]").SendKeys("order 7 was already refunded");
        browser.Find("#deny").Click();
        var refused = Assert.ThrowsAsync<RpcException>(async () => await waiting.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.That((refused!.StatusCode, E2E.Reason(refused)), Is.EqualTo((StatusCode.PermissionDenied, "approval.denied")));
        Assert.That(refused.Status.Detail, Does.Contain("order 7 was already refunded"));
        Assert.That(browser.WaitFor("#decision-result").GetAttribute("data-state"), Is.EqualTo("denied"));
        browser.Shot("decided");
    }

    [Test]
    public async Task The_rules_owner_is_an_approver_but_cannot_approve_and_the_agent_keeps_waiting()
    {
        var (id, waiting) = await AgentWaitsAsync(E2E.Agent("console-owned"), "console-apr-3");
        using var browser = Browser.Start();
        OpenApproval(browser, Site, "owen", id);

        browser.Find("textarea[name=reason]").SendKeys("my own rule, fine by me");
        browser.Find("#approve").Click();
        var error = browser.WaitFor("#error");
        browser.Shot("refused");
        Assert.That(error.GetAttribute("data-reason"), Is.EqualTo("approval.self_approval"));
        Assert.That(browser.FindAll("#decision-result"), Is.Empty);
        await Task.Delay(300);
        Assert.That(waiting.IsCompleted, Is.False, "still waiting: nothing was decided");
        Assert.That(await ApprovalStateAsync(id), Is.EqualTo("pending"));
    }
}
