using JitBroker.Core;
using JitBroker.Cli;
using JitBroker.Server.Notifications;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace JitBroker.Server.Tests.Notifications;

/// <summary>
/// Issue 21 item 3 end to end: an agent's request that needs approval → the broker answers pending at once, even while
/// the webhook hangs → the signed notice arrives, linking to the console page of exactly that approval; an identical
/// re-sent request pages nobody again.
/// </summary>
[NonParallelizable]
public sealed class ApprovalNotificationE2ETests
{
    private const string ConsoleBase = "http://127.0.0.1:18443";
    private NotificationTestKit _kit = null!;
    private WebhookReceiver _receiver = null!;
    private PolicyDirectory _policy = null!;
    private BrokerServerFixture _broker = null!;
    private BrokerClient _client = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _kit = new NotificationTestKit();
        _receiver = await WebhookReceiver.StartAsync();
        _receiver.Respond = attempt => attempt == 1 ? -1 : 200; // the first attempt hangs until the broker's timeout
        _policy = new PolicyDirectory().Write("20-approvals.yaml", E2E.ApprovalPolicy.Replace("    effect: allow", "    effect: allow\n    owner: payments-lead@example.org", StringComparison.Ordinal));
        _broker = await BrokerServerFixture.StartAsync(new Dictionary<string, string?>
        {
            ["JitBroker:Admin:Principals:0"] = "spiffe://dev.jitbroker.local/humans/leads/*",
            ["JitBroker:Policy:Path"] = _policy.Path,
            ["JitBroker:Notifications:ConsoleBaseUrl"] = ConsoleBase,
            ["JitBroker:Notifications:Timeout"] = "00:00:04",
            ["JitBroker:Notifications:RetryInitialDelay"] = "00:00:00.100",
            ["JitBroker:Notifications:Webhooks:0:Name"] = "soar",
            ["JitBroker:Notifications:Webhooks:0:Url"] = _receiver.Url,
            ["JitBroker:Notifications:Webhooks:0:SecretPath"] = _kit.SecretFile,
        });
        _client = _broker.Client();
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        _client.Dispose();
        await _broker.DisposeAsync();
        _policy.Dispose();
        await _receiver.DisposeAsync();
        _kit.Dispose();
    }

    [Test]
    public async Task A_request_needing_approval_notifies_the_webhook_with_a_deep_link_to_that_approval_once()
    {
        var agent = E2E.Agent("refunder");
        var svid = _broker.Svid(agent);
        var status = _broker.Services.GetRequiredService<INotificationStatus>();
        var pending = await _client.RequestCredentialAsync(svid, E2E.Refund("notify-1"));
        var id = pending.PendingApproval.ApprovalId;
        Assert.That(id, Does.StartWith("apr_"));
        Assert.That(status.Webhooks.Single() is { Delivered: 0, FailedAttempts: 0 }, Is.True,
            "the agent had its answer while the first attempt still hung (4 s timeout): the request never waits for the webhook");

        Assert.That(await _receiver.WaitForAsync(2, TimeSpan.FromSeconds(15)), Is.True, "retried after the hang");
        var delivered = _receiver.Received[1];
        var data = delivered.Json.GetProperty("data");
        var link = new Uri(data.GetProperty("console_url").GetString()!);
        Assert.Multiple(() =>
        {
            Assert.That(link.AbsolutePath, Is.EqualTo("/console/approvals/" + id), "the console's approval page");
            Assert.That(link.GetLeftPart(UriPartial.Authority), Is.EqualTo(ConsoleBase));
            Assert.That(data.GetProperty("agent_id").GetString(), Is.EqualTo(agent), "the attested agent");
            Assert.That(data.GetProperty("owner").GetString(), Is.EqualTo("payments-lead@example.org"), "the rule's owner");
            Assert.That(data.GetProperty("action").GetString(), Is.EqualTo("payments.refund"));
            Assert.That(data.GetProperty("purpose").GetString(), Is.EqualTo("customer was double charged"));
            Assert.That(data.GetProperty("audience").GetString(), Is.EqualTo(E2E.PaymentsAudience));
            Assert.That(DateTimeOffset.Parse(data.GetProperty("expires_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture),
                Is.EqualTo(pending.PendingApproval.ExpiresAt.ToDateTimeOffset()).Within(TimeSpan.FromSeconds(1)));
            Assert.That(delivered.Header("webhook-id"), Is.EqualTo("msg_" + id));
        });

        // The link's last segment names a real approval an approver can act on.
        var show = await Jitctl.RunAsync(_broker.GrpcUri, E2E.AdminSvid(_broker, E2E.Lead), "approvals", "show", link.Segments[^1], "--json");
        Assert.That((show.Code, show.Json().GetProperty("state").GetString()), Is.EqualTo((0, "pending")), show.ToString());

        var again = await _client.RequestCredentialAsync(svid, E2E.Refund("notify-1"));
        Assert.That(again.PendingApproval.ApprovalId, Is.EqualTo(id), "the identical request shares the open approval");
        await Task.Delay(700);
        Assert.Multiple(() =>
        {
            Assert.That(_receiver.Received, Has.Count.EqualTo(2), "nothing sent for the duplicate");
            Assert.That(status.Enabled, Is.True);
            Assert.That(status.Webhooks.Single() is { Name: "soar", Delivered: 1, FailedAttempts: 1, ConsecutiveFailures: 0 }, Is.True,
                string.Join(", ", status.Webhooks));
        });
    }
}
