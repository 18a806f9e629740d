using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using JitBroker.ToolGuard.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using NUnit.Framework;

namespace JitBroker.ToolGuard.Tests;

/// <summary>
/// The real broker's <c>/tool-uses</c> takes a batch and answers how many uses it rejected and why; the tool meters that
/// by reason (<c>jitbroker.toolguard.uses_rejected</c>) and logs it once per batch, without any token data.
/// </summary>
[TestFixture]
public sealed class UseReportRejectionTests
{
    [Test]
    public async Task Uses_the_broker_rejects_are_counted_by_reason_and_logged_once_per_batch_without_token_data()
    {
        await using var broker = await Broker.StartAsync();
        var logs = new CapturedLogs();
        await using var tool = await ToolServer.StartAsync(o =>
        {
            o.Issuer = broker.Issuer;
            o.WorkloadToken = broker.ToolSvidAsync;
            o.Introspection.Enabled = false;
            // Four uses fill a batch, which then goes at once: the real call and the three below travel together.
            o.UseReports.BatchSize = 4;
            o.UseReports.FlushInterval = TimeSpan.FromSeconds(30);
        }, logs: logs);
        var rejectedByReason = new ConcurrentDictionary<string, long>();
        using var listener = RejectionListener(tool, rejectedByReason);
        var token = await broker.TokenAsync(Broker.Agent("rejections"));
        using var http = new HttpClient();
        using (var allowed = await http.SendAsync(Challenges.Get(tool.BaseUrl + "/tickets/9", token: token)))
        {
            Assert.That(allowed.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }

        var reporter = tool.Services.GetRequiredService<IUseReporter>();
        reporter.Report(Use(CredentialUse.Fingerprint(token)[..20], ToolServer.Resource)); // malformed fingerprint
        reporter.Report(Use(CredentialUse.Fingerprint("x"), Broker.OtherAudience));         // not this tool's audience
        reporter.Report(Use(CredentialUse.Fingerprint("y"), Broker.OtherAudience));

        var counted = tool.Services.GetRequiredService<UseReporter>();
        var clock = Stopwatch.StartNew();
        // The sender counts a batch's rejections, then logs them: wait for both, or a busy machine reads the log too early.
        while ((counted.Rejected < 3 || !logs.Records.Any(r => r.Id.Id == 4370)) && clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(50);
        }

        var warnings = logs.Records.Where(r => r.Id.Id == 4370).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(counted.Rejected, Is.EqualTo(3), "the real use was recorded, the three others rejected");
            Assert.That(reporter.Dropped, Is.Zero, "a rejection is not a lost batch");
            Assert.That(rejectedByReason, Is.EquivalentTo(new Dictionary<string, long>
            {
                ["tool_use.fingerprint_malformed"] = 1,
                ["tool_use.audience_not_served"] = 2,
            }));
            Assert.That(warnings, Has.Count.EqualTo(1), "one line per batch");
            Assert.That(warnings.Single().Level, Is.EqualTo(LogLevel.Warning));
            Assert.That(warnings.Single().Message, Does.Contain("3 of 4").And.Contain("tool_use.audience_not_served x2"));
            Assert.That(logs.Records.Select(r => r.Message), Has.None.Contain(token).And.None.Contain(CredentialUse.Fingerprint(token)[7..])
                .And.None.Contain(broker.Dev.MintSvid(Broker.ToolIdentity, broker.Issuer, TimeSpan.FromMinutes(5)).Split('.')[0] + "."),
                "no token, fingerprint or assertion in any log line");
        });
    }

    [TestCase("""{"accepted":1,"rejected":2}""", 5, "unspecified=2")]
    [TestCase("""{"accepted":0,"rejected":3,"rejected_reasons":["0:tool_use.lease_unknown","1:Free Text!","2:tool_use.lease_unknown"]}""", 3, "tool_use.lease_unknown=2 unspecified=1")]
    [TestCase("""{"accepted":0,"rejected":2147483647,"rejected_reasons":[]}""", 4, "unspecified=4")]
    [TestCase("""{"accepted":4,"rejected":0,"rejected_reasons":[]}""", 4, "")]
    [TestCase("""{"accepted":4}""", 4, "")]
    public void Answers_are_read_into_bounded_reason_codes(string body, int sent, string expected)
    {
        var answer = UseBatchAnswer.Parse(System.Text.Encoding.UTF8.GetBytes(body), sent);
        Assert.That(string.Join(' ', answer.ByReason.Select(r => $"{r.Reason}={r.Count}")), Is.EqualTo(expected));
        Assert.That(answer.Rejected, Is.EqualTo(answer.ByReason.Sum(r => r.Count)));
    }

    private static MeterListener RejectionListener(ToolServer tool, ConcurrentDictionary<string, long> byReason)
    {
        // Only this tool's meter: other tests' tools publish the same instrument name in parallel.
        var factory = tool.Services.GetRequiredService<IMeterFactory>();
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Name == UseReporter.RejectedCounterName && ReferenceEquals(instrument.Meter.Scope, factory))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == UseReporter.ReasonTag)
                {
                    byReason.AddOrUpdate((string)tag.Value!, value, (_, sum) => sum + value);
                }
            }
        });
        listener.Start();
        return listener;
    }

    private static CredentialUse Use(string fingerprint, string audience) => new()
    {
        CredentialFingerprint = fingerprint,
        Tool = "zendesk",
        Outcome = CredentialUse.RefusedOutcome,
        Reason = ToolGuardReasons.ToolNotGranted,
        At = CredentialUse.Rfc3339(DateTimeOffset.UtcNow),
        Audience = audience,
    };
}
