using System.Net;
using Grpc.Core;
using JitBroker.Server.Tests;
using NUnit.Framework;

namespace JitBroker.Console.Tests.InBrowser;

/// <summary>
/// Issue 21 item 6, the operator's side in a real browser: olga (group operators) blocks an agent that holds several
/// active leases from <c>/console/blocks</c>, watches the bulk revocation reach done, and sees the leases revoked on
/// <c>/console/leases</c>; the overview, agent and task pages render for her. An operator is not an approver: a decision
/// she posts with a valid anti-forgery token of her own is refused.
/// </summary>
public sealed class OperatorBrowserTests : ConsoleBrowserSuite
{
    [Test]
    public async Task An_operator_blocks_an_agent_watches_the_revocation_finish_and_sees_its_leases_revoked()
    {
        var agent = E2E.Agent("console-runaway");
        var leases = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            leases.Add((await E2E.IssueAsync(Site.Broker, Agent, agent, $"runaway-{i}")).LeaseId);
        }

        using var browser = Browser.Start();
        ConsolePeople.SignIn(browser, Site, "olga", "/console/");
        Assert.That(ConsolePeople.PageName(browser), Is.EqualTo("overview"), browser.Text);
        Assert.That(browser.FindAll("[id^='chart-']"), Is.Not.Empty, "the overview draws its charts");
        browser.Shot("overview");

        browser.Go(Site.Page("/console/leases?agent=" + Uri.EscapeDataString(agent)));
        Assert.That(LeaseStates(browser), Is.EquivalentTo(leases.Select(l => (l, "active"))));
        browser.Shot("leases-active");

        browser.Go(Site.Page("/console/blocks"));
        browser.Find("#block-agent").SendKeys(agent);
        browser.Find("#block-confirm").SendKeys(agent);
        browser.Find("#block-reason").SendKeys("runaway loop, stop it");
        browser.Shot("blocks-form");
        browser.Find("#block-submit").Click();

        var progress = browser.Until(d => d.FindElements(OpenQA.Selenium.By.CssSelector("#block-progress[data-done='true']")).FirstOrDefault(),
            TimeSpan.FromSeconds(20), "the block's revocation to finish");
        browser.Shot("block-progress-done");
        Assert.Multiple(() =>
        {
            Assert.That(progress.GetAttribute("data-total"), Is.EqualTo("3"));
            Assert.That(progress.GetAttribute("data-revoked"), Is.EqualTo("3"));
            Assert.That(progress.GetAttribute("data-failed"), Is.EqualTo("0"));
        });

        browser.Go(Site.Page("/console/leases?agent=" + Uri.EscapeDataString(agent)));
        Assert.That(LeaseStates(browser), Is.EquivalentTo(leases.Select(l => (l, "revoked"))));
        browser.Shot("leases-revoked");

        browser.Go(Site.Page("/console/blocks"));
        Assert.That(browser.FindAll($"#blocks tr[data-pattern='{agent}']"), Has.Count.EqualTo(1), "the block is listed in force");
        browser.Shot("blocks-in-force");

        var refused = Assert.ThrowsAsync<RpcException>(() => E2E.IssueAsync(Site.Broker, Agent, agent, "runaway-after"));
        Assert.That(refused!.StatusCode, Is.EqualTo(StatusCode.PermissionDenied), "a blocked agent gets nothing new");
    }

    [Test]
    public async Task The_agent_and_task_pages_tell_an_operator_the_agents_story()
    {
        var agent = E2E.Agent("console-storyteller");
        var issued = await E2E.IssueAsync(Site.Broker, Agent, agent, "story-1");

        using var browser = Browser.Start();
        ConsolePeople.SignIn(browser, Site, "olga", "/console/agents/" + Uri.EscapeDataString(agent));
        Assert.That(ConsolePeople.PageName(browser), Is.EqualTo("agent"), browser.Text);
        Assert.That(browser.Text, Does.Contain(issued.LeaseId).And.Contain("tickets-team@corp.example"));
        browser.Shot("agent");

        browser.Go(Site.Page("/console/tasks/story-1?agent=" + Uri.EscapeDataString(agent)));
        Assert.That(ConsolePeople.PageName(browser), Is.EqualTo("task"), browser.Text);
        Assert.That(browser.Text, Does.Contain(issued.LeaseId));
        Assert.That(browser.Text, Does.Not.Contain(issued.Credential.Token), "no credential is ever rendered");
        browser.Shot("task");
    }

    [Test]
    public async Task An_operator_cannot_decide_an_approval_even_with_a_valid_anti_forgery_token()
    {
        var id = await PendingApprovalAsync("console-op-refunder", "console-op-apr", "orders/5");

        using var browser = Browser.Start();
        ConsolePeople.SignIn(browser, Site, "olga", "/console/approvals/" + id);
        Assert.That(ConsolePeople.PageName(browser), Is.EqualTo("approval"), "operators see approvals");
        Assert.That(browser.FindAll("#decide"), Is.Empty, "but get no form to decide them");
        browser.Shot("approval-read-only");

        // A token olga's own session legitimately received, on a page she may use.
        browser.Go(Site.Page("/console/blocks"));
        var token = browser.Find("#block-form input[name=__RequestVerificationToken]").GetAttribute("value")!;
        using var http = Site.Http(browser.CookiesFor(Site.BaseUrl));
        using var post = await http.PostAsync(new Uri("/console/approvals/" + id, UriKind.Relative), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["decision"] = "approve", ["reason"] = "operators approve too, right?", ["__RequestVerificationToken"] = token,
        }));
        var body = await post.Content.ReadAsStringAsync();
        Assert.That(post.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden), body);
        Assert.That(body, Does.Contain("data-reason=\"console.role_required\""));
        Assert.That(await ApprovalStateAsync(id), Is.EqualTo("pending"));
    }

    private static List<(string LeaseId, string State)> LeaseStates(Browser browser) =>
        [.. browser.FindAll("tr[data-lease-id]").Select(r => (r.GetAttribute("data-lease-id")!, r.GetAttribute("data-state")!))];
}
