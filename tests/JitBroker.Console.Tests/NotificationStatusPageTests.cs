using System.Net;
using System.Text.RegularExpressions;
using JitBroker.Core;
using JitBroker.Testing;
using NUnit.Framework;

namespace JitBroker.Console.Tests;

/// <summary>Issue 21 item 3: approval-notification failures are visible on the console's overview, not only in metrics.</summary>
public sealed class NotificationStatusPageTests
{
    private static readonly WorkloadIdentity Agent = new()
    {
        Id = "spiffe://dev.jitbroker.local/agents/support-bot", TrustDomain = "dev.jitbroker.local", Method = "jwt-svid", EvidenceFingerprint = "f",
    };

    [Test]
    public async Task A_webhook_that_cannot_be_reached_shows_as_failing_with_its_error_on_the_overview()
    {
        var closedPort = LoopbackPorts.Free(1)[0]; // nothing listens: every attempt is a refused connection
        await using var broker = await ConsoleBroker.StartAsync(new Dictionary<string, string?>
        {
            ["JitBroker:Notifications:ConsoleBaseUrl"] = "http://127.0.0.1:8443",
            ["JitBroker:Notifications:Webhooks:0:Name"] = "approvers-slack",
            ["JitBroker:Notifications:Webhooks:0:Kind"] = "slack",
            ["JitBroker:Notifications:Webhooks:0:Url"] = $"http://127.0.0.1:{closedPort}/hook",
            ["JitBroker:Notifications:Timeout"] = "00:00:01",
            ["JitBroker:Notifications:RetryInitialDelay"] = "00:00:00.100",
            ["JitBroker:Notifications:RetryMaxDelay"] = "00:00:00.200",
        });
        var status = (INotificationStatus)broker.Services.GetService(typeof(INotificationStatus))!;
        var approvals = (ApprovalService)broker.Services.GetService(typeof(ApprovalService))!;
        var request = new CredentialRequest("task-9", new TaskIntent("tickets.refund", "refund order 9", ["refund"], ["order:9"],
            new Dictionary<string, string>()), "jwt", "https://tickets.internal.example", TimeSpan.FromMinutes(5));
        var decision = new PolicyDecision(DecisionEffect.NeedsApproval, null, ["refunds-need-approval"], "needs approval")
        {
            Approval = new ApprovalRequirement([broker.Provider.Issuer + "#*"], TimeSpan.FromMinutes(15)),
        };
        await approvals.CreateAsync(Agent, request, "hash-9", decision);
        for (var i = 0; i < 100 && status.Webhooks.Single().FailedAttempts == 0; i++)
        {
            await Task.Delay(100);
        }

        broker.Provider.NextPerson = new TestPerson("olga", "olga@corp.example", ["operators"]);
        using var client = broker.NewClient();
        var response = await client.SignInAndGetAsync("/console/");
        var html = await response.Content.ReadAsStringAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(html, Does.Contain("id=\"notifications\" data-enabled=\"true\""));
        var row = Regex.Match(html, "<tr data-webhook=\"approvers-slack\" data-failing=\"([a-z]+)\" data-failed=\"([0-9]+)\" data-delivered=\"([0-9]+)\">(.*?)</tr>",
            RegexOptions.Singleline);
        Assert.That(row.Success, Is.True, "the webhook has a row");
        Assert.Multiple(() =>
        {
            Assert.That(row.Groups[1].Value, Is.EqualTo("true"), "failing");
            Assert.That(int.Parse(row.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture), Is.GreaterThan(0), "failed attempts");
            Assert.That(row.Groups[3].Value, Is.EqualTo("0"), "delivered");
            Assert.That(row.Groups[4].Value, Does.Contain(status.Webhooks.Single().LastError!), "the last error is shown");
            Assert.That(html, Does.Not.Contain("/hook"), "the webhook URL (a secret for Slack) is never rendered, only scheme, host and port");
        });
    }

    [Test]
    public async Task Without_webhooks_the_overview_says_nobody_is_told()
    {
        await using var broker = await ConsoleBroker.StartAsync();
        broker.Provider.NextPerson = new TestPerson("olga", "olga@corp.example", ["operators"]);
        using var client = broker.NewClient();
        var html = await (await client.SignInAndGetAsync("/console/")).Content.ReadAsStringAsync();

        Assert.That(html, Does.Contain("id=\"notifications\" data-enabled=\"false\"").And.Contain("No webhook is configured"));
    }
}
