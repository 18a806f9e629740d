using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text;
using System.Text.Json;
using JitBroker.Server.Notifications;
using NUnit.Framework;

namespace JitBroker.Server.Tests.Notifications;

/// <summary>
/// Issue 21 item 3: the notice of an opened approval, delivered to in-test receivers on Kestrel — the Slack message's
/// shape, the generic event's signature checked by an independent verifier, retries (500, a hang), no attempt after the
/// approval expired, redirects not followed, refusals not repeated, and a full queue dropping and counting.
/// </summary>
public sealed class WebhookDeliveryTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private NotificationTestKit _kit = null!;
    private WebhookReceiver _receiver = null!;

    [SetUp]
    public async Task Start()
    {
        _kit = new NotificationTestKit();
        _receiver = await WebhookReceiver.StartAsync();
    }

    [TearDown]
    public async Task Stop()
    {
        await _receiver.DisposeAsync();
        _kit.Dispose();
    }

    [Test]
    public async Task The_slack_message_has_text_and_blocks_with_a_button_to_the_approval_and_escapes_what_the_agent_wrote()
    {
        using var notifier = await _kit.StartAsync(_kit.Settings(_receiver.Url, WebhookSettings.Slack));
        var approval = NotificationTestKit.Approval(TimeSpan.FromMinutes(5), purpose: "refund <https://evil.example|click here> & <!channel>");
        notifier.Opened(approval, "payments-lead@example.org");

        Assert.That(await _receiver.WaitForAsync(1, Wait), Is.True);
        var got = _receiver.Received[0];
        var body = got.Json;
        var link = NotificationTestKit.ConsoleBase + "console/approvals/" + approval.ApprovalId;
        var blocks = body.GetProperty("blocks").EnumerateArray().ToList();
        var button = blocks.Single(b => b.GetProperty("type").GetString() == "actions").GetProperty("elements")[0];
        var text = Encoding.UTF8.GetString(got.Body);
        Assert.Multiple(() =>
        {
            Assert.That(got.Header("content-type"), Does.StartWith("application/json"));
            Assert.That(got.Header("webhook-signature"), Is.Empty, "Slack incoming webhooks are not signed");
            Assert.That(body.GetProperty("text").GetString(), Does.Contain("payments.refund").And.Contain(link), "the notification text and fallback");
            Assert.That(blocks.Select(b => b.GetProperty("type").GetString()), Is.EqualTo(new[] { "header", "section", "section", "actions", "context" }));
            Assert.That(blocks[0].GetProperty("text").GetProperty("type").GetString(), Is.EqualTo("plain_text"), "a header is plain_text only");
            Assert.That((button.GetProperty("type").GetString(), button.GetProperty("url").GetString()), Is.EqualTo(("button", link)));
            Assert.That(button.GetProperty("text").GetProperty("text").GetString()!.Length, Is.LessThanOrEqualTo(75));
            var fields = blocks[2].GetProperty("fields").EnumerateArray().Select(f => f.GetProperty("text").GetString()).ToList();
            Assert.That(fields, Has.Count.LessThanOrEqualTo(10));
            Assert.That(fields, Has.Some.Contains("payments-lead@example.org").And.Some.Contains(approval.AgentId).And.Some.Contains("orders/7")
                .And.Some.Contains("refunds-need-approval").And.Some.Contains("https://payments.internal.example"));
            var purpose = blocks[1].GetProperty("text").GetProperty("text").GetString();
            Assert.That(purpose, Does.Contain("&lt;https://evil.example|click here&gt; &amp; &lt;!channel&gt;"), "no link or mention from the agent");
            Assert.That(text, Does.Not.Contain("<https://evil.example").And.Not.Contain("<!channel>"));
        });
    }

    [Test]
    public async Task The_json_event_is_signed_so_an_independent_verifier_accepts_it_and_refuses_a_changed_body()
    {
        using var notifier = await _kit.StartAsync(_kit.Settings(_receiver.Url, WebhookSettings.Json));
        var approval = NotificationTestKit.Approval(TimeSpan.FromMinutes(5));
        notifier.Opened(approval, "payments-lead@example.org");

        Assert.That(await _receiver.WaitForAsync(1, Wait), Is.True);
        var got = _receiver.Received[0];
        var data = got.Json.GetProperty("data");
        Assert.Multiple(() =>
        {
            Assert.That(got.Header("webhook-id"), Is.EqualTo("msg_" + approval.ApprovalId));
            Assert.That(got.Header("webhook-signature"), Does.StartWith("v1,"));
            Assert.That(got.Json.GetProperty("type").GetString(), Is.EqualTo("approval.opened"));
            Assert.That(data.GetProperty("console_url").GetString(), Is.EqualTo(NotificationTestKit.ConsoleBase + "console/approvals/" + approval.ApprovalId));
            Assert.That(data.GetProperty("owner").GetString(), Is.EqualTo("payments-lead@example.org"));
            Assert.That(data.GetProperty("rule_ids")[0].GetString(), Is.EqualTo("refunds-need-approval"));
            Assert.That(data.GetProperty("resources")[0].GetString(), Is.EqualTo("orders/7"));
            Assert.That(data.GetProperty("ttl_seconds").GetInt64(), Is.EqualTo(120));
            Assert.That(Encoding.UTF8.GetString(got.Body), Does.Not.Contain(File.ReadAllText(_kit.SecretFile).Trim()["whsec_".Length..]));
        });

        var (code, output) = await VerifyWithPythonAsync(got, got.Body);
        Assert.That((code, output.Trim()), Is.EqualTo((0, "approval.opened")), "python3 hmac accepts the signature");
        var tampered = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(got.Body).Replace("orders/7", "orders/8", StringComparison.Ordinal));
        Assert.That((await VerifyWithPythonAsync(got, tampered)).Code, Is.EqualTo(1), "a changed body fails verification");
    }

    [Test]
    public async Task A_500_is_retried_with_backoff_until_delivered_and_the_status_shows_the_failures()
    {
        _receiver.Respond = attempt => attempt <= 2 ? 500 : 204;
        using var notifier = await _kit.StartAsync(_kit.Settings(_receiver.Url, WebhookSettings.Json));
        notifier.Opened(NotificationTestKit.Approval(TimeSpan.FromMinutes(5)), null);

        Assert.That(await _receiver.WaitForAsync(3, Wait), Is.True);
        await NotificationTestKit.DrainedAsync(notifier, Wait);
        var status = notifier.Webhooks.Single();
        var received = _receiver.Received;
        Assert.Multiple(() =>
        {
            Assert.That((status.Delivered, status.FailedAttempts, status.ConsecutiveFailures), Is.EqualTo((1L, 2L, 0)));
            Assert.That(status.LastError, Is.EqualTo("HTTP 500"));
            Assert.That(status.Endpoint, Is.EqualTo(_receiver.BaseUrl), "scheme, host and port only");
            Assert.That(received[1].At - received[0].At, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(40)), "backoff (half of 100 ms at least) between attempts");
            Assert.That(received.Select(r => r.Header("webhook-id")).Distinct().Count(), Is.EqualTo(1), "one event id across retries");
            Assert.That(notifier.Queued, Is.Zero);
        });
    }

    [Test]
    public async Task A_receiver_that_hangs_is_given_up_on_after_the_timeout_and_tried_again()
    {
        _receiver.Respond = attempt => attempt == 1 ? -1 : 200;
        using var notifier = await _kit.StartAsync(_kit.Settings(_receiver.Url, WebhookSettings.Slack, s => s.Timeout = TimeSpan.FromMilliseconds(300)));
        notifier.Opened(NotificationTestKit.Approval(TimeSpan.FromMinutes(5)), null);

        Assert.That(await _receiver.WaitForAsync(2, Wait), Is.True);
        await NotificationTestKit.DrainedAsync(notifier, Wait);
        var status = notifier.Webhooks.Single();
        Assert.That((status.Delivered, status.FailedAttempts, status.LastError), Is.EqualTo((1L, 1L, "no answer within 0.3 s")));
    }

    [Test]
    public async Task Nothing_is_sent_once_the_approval_has_expired()
    {
        _receiver.Respond = _ => 503;
        using var notifier = await _kit.StartAsync(_kit.Settings(_receiver.Url, WebhookSettings.Json));
        var approval = NotificationTestKit.Approval(TimeSpan.FromMilliseconds(1500));
        notifier.Opened(approval, null);
        notifier.Opened(NotificationTestKit.Approval(TimeSpan.FromSeconds(-1)), null); // already expired: never sent

        await NotificationTestKit.DrainedAsync(notifier, Wait);
        var attempts = _receiver.Received.Count;
        await Task.Delay(500);
        var status = notifier.Webhooks.Single();
        Assert.Multiple(() =>
        {
            Assert.That(attempts, Is.GreaterThanOrEqualTo(2), "retried while the approval was open");
            Assert.That(_receiver.Received, Has.Count.EqualTo(attempts), "no attempt after giving up");
            Assert.That(_receiver.Received.All(r => r.At < approval.ExpiresAt), Is.True, "every attempt before the expiry");
            Assert.That(_receiver.Received.All(r => r.Header("webhook-id") == "msg_" + approval.ApprovalId), Is.True);
            Assert.That((status.Expired, status.Delivered), Is.EqualTo((2L, 0L)));
        });
    }

    [Test]
    public async Task On_a_fake_clock_a_retry_that_would_fall_after_the_expiry_is_never_scheduled()
    {
        _receiver.Respond = _ => 500;
        var clock = JitBroker.Testing.TestClock.Create();
        // Backoff of 10–20 s against an approval that expires in 5 s: one attempt, then give up at once, no waiting.
        using var notifier = await _kit.StartAsync(_kit.Settings(_receiver.Url, WebhookSettings.Json,
            s => (s.RetryInitialDelay, s.RetryMaxDelay) = (TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(20))), clock);
        notifier.Opened(NotificationTestKit.Approval(TimeSpan.FromSeconds(5), time: clock), null);

        await NotificationTestKit.DrainedAsync(notifier, Wait);
        clock.Advance(TimeSpan.FromMinutes(1));
        await Task.Delay(200);
        var status = notifier.Webhooks.Single();
        Assert.That((_receiver.Received.Count, status.FailedAttempts, status.Expired, notifier.Queued), Is.EqualTo((1, 1L, 1L, 0)));
    }

    [Test]
    public async Task A_redirect_is_not_followed_and_counts_as_a_failure()
    {
        using var notifier = await _kit.StartAsync(_kit.Settings(_receiver.BaseUrl + "/moved", WebhookSettings.Json));
        notifier.Opened(NotificationTestKit.Approval(TimeSpan.FromMilliseconds(700)), null);

        await NotificationTestKit.DrainedAsync(notifier, Wait);
        var status = notifier.Webhooks.Single();
        Assert.Multiple(() =>
        {
            Assert.That(_receiver.OtherHits, Is.Zero, "the redirect target never hears from the broker");
            Assert.That(status.FailedAttempts, Is.GreaterThanOrEqualTo(1));
            Assert.That(status.LastError, Does.StartWith("HTTP 307"));
            Assert.That((status.Delivered, status.Expired), Is.EqualTo((0L, 1L)));
        });
    }

    [Test]
    public async Task A_refused_body_is_not_sent_again()
    {
        _receiver.Respond = _ => 400;
        using var notifier = await _kit.StartAsync(_kit.Settings(_receiver.Url, WebhookSettings.Slack));
        notifier.Opened(NotificationTestKit.Approval(TimeSpan.FromMinutes(5)), null);

        Assert.That(await _receiver.WaitForAsync(1, Wait), Is.True);
        await NotificationTestKit.DrainedAsync(notifier, Wait);
        await Task.Delay(400);
        Assert.That((_receiver.Received.Count, notifier.Webhooks.Single().Rejected), Is.EqualTo((1, 1L)));
    }

    [Test]
    public async Task When_the_queue_is_full_a_notice_is_dropped_and_counted_without_delaying_the_caller()
    {
        _receiver.Respond = _ => -1;
        using var listener = new MeterListener();
        var dropped = 0L;
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter == _kit.Metrics.Meter && instrument.Name == "jitbroker.notifications.failures")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            if (tags.ToArray().Any(t => t.Key == "outcome" && (string?)t.Value == "dropped"))
            {
                Interlocked.Add(ref dropped, value);
            }
        });
        listener.Start();
        using var notifier = await _kit.StartAsync(_kit.Settings(_receiver.Url, WebhookSettings.Json, s => s.QueueCapacity = 2));

        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 5; i++)
        {
            notifier.Opened(NotificationTestKit.Approval(TimeSpan.FromMinutes(5)), null);
        }

        Assert.Multiple(() =>
        {
            Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromMilliseconds(500)), "Opened only queues");
            Assert.That(notifier.Queued, Is.EqualTo(2));
            Assert.That(notifier.Webhooks.Single().Dropped, Is.EqualTo(3));
            Assert.That(Interlocked.Read(ref dropped), Is.EqualTo(3));
        });
    }

    private async Task<(int Code, string Output)> VerifyWithPythonAsync(ReceivedWebhook got, byte[] body)
    {
        var bodyFile = _kit.WriteSecret(Encoding.UTF8.GetString(body));
        var script = Path.Combine(TestContext.CurrentContext.TestDirectory, "interop", "webhook_verify.py");
        var start = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { script, _kit.SecretFile, bodyFile, got.Header("webhook-id"), got.Header("webhook-timestamp"), got.Header("webhook-signature") })
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, output + error);
    }
}
