using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using JitBroker.ToolGuard.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using NUnit.Framework;

namespace JitBroker.ToolGuard.Tests;

/// <summary>Use reports: batched to the broker's endpoint, bounded, never blocking the call, dropped reports counted.</summary>
[TestFixture]
public sealed class UseReportTests
{
    [Test]
    public async Task Uses_arrive_in_batches_of_at_most_the_batch_size_with_the_tools_workload_token()
    {
        await using var issuer = await FakeAuthorizationServer.StartAsync();
        await using var uses = await UseRecordingServer.StartAsync();
        await using var tool = await ToolServer.StartAsync(o =>
        {
            o.Issuer = issuer.Issuer;
            o.WorkloadToken = _ => Task.FromResult("tool-svid");
            o.Introspection.Enabled = false;
            o.UseReports.Endpoint = uses.Url;
            o.UseReports.BatchSize = 5;
            o.UseReports.FlushInterval = TimeSpan.FromMilliseconds(300);
        });
        using var http = new HttpClient();
        var token = issuer.Mint();
        for (var i = 0; i < 12; i++)
        {
            (await http.SendAsync(Challenges.Get(tool.BaseUrl + "/tickets/" + i, token: token))).Dispose();
        }

        var all = await BrokerTokenTests.EventuallyAsync(() => [.. uses.Uses], 12);
        Assert.Multiple(() =>
        {
            Assert.That(all, Has.Length.EqualTo(12));
            Assert.That(uses.Batches.Count, Is.GreaterThanOrEqualTo(3));
            Assert.That(uses.Batches.Select(b => b.Body.GetProperty("uses").GetArrayLength()), Has.All.InRange(1, 5));
            Assert.That(uses.Batches.Select(b => b.Assertion), Has.All.EqualTo("tool-svid"), "client_assertion, as for introspection");
            Assert.That(all.SelectMany(u => u.EnumerateObject()).Select(m => m.Value.ValueKind).Distinct(), Is.EqualTo(new[] { System.Text.Json.JsonValueKind.String }),
                "every member a string: the broker refuses null members");
            Assert.That(all.Select(u => u.GetProperty("resource").GetString()), Is.EquivalentTo(Enumerable.Range(0, 12).Select(i => "tickets/" + i)));
        });
    }

    [Test]
    public void A_full_buffer_drops_the_oldest_and_counts_instead_of_blocking()
    {
        using var services = new ServiceCollection().AddMetrics()
            .AddSingleton(Options.Create(new ToolGuardOptions { UseReports = { BufferSize = 3 } })).AddSingleton<UseReporter>().BuildServiceProvider();
        var reporter = services.GetRequiredService<UseReporter>();
        long metered = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == UseReporter.DroppedCounterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref metered, value));
        listener.Start();

        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 10; i++)
        {
            reporter.Report(Use("tickets/" + i));
        }

        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(1)), "nobody reads the buffer: reporting must still return");
        Assert.That((reporter.Dropped, Interlocked.Read(ref metered)), Is.EqualTo((7L, 7L)));
        var kept = new List<string?>();
        while (reporter.Reader.TryRead(out var use))
        {
            kept.Add(use.Resource);
        }

        Assert.That(kept, Is.EqualTo(new[] { "tickets/7", "tickets/8", "tickets/9" }), "the newest are kept");
    }

    [Test]
    public async Task A_broker_that_cannot_take_reports_costs_the_call_nothing_and_the_lost_reports_are_counted()
    {
        await using var issuer = await FakeAuthorizationServer.StartAsync();
        await using var tool = await ToolServer.StartAsync(o =>
        {
            o.Issuer = issuer.Issuer;
            o.WorkloadToken = _ => Task.FromResult("tool-svid");
            o.Introspection.Enabled = false;
            o.UseReports.Endpoint = $"http://127.0.0.1:{JitBroker.Testing.LoopbackPorts.Free(1)[0]}/tool-uses";
            o.UseReports.FlushInterval = TimeSpan.FromMilliseconds(100);
        });
        using var http = new HttpClient();
        using var response = await http.SendAsync(Challenges.Get(tool.BaseUrl + "/tickets/1", token: issuer.Mint()));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var reporter = tool.Services.GetRequiredService<IUseReporter>();
        var clock = Stopwatch.StartNew();
        while (reporter.Dropped == 0 && clock.Elapsed < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(50);
        }

        Assert.That(reporter.Dropped, Is.EqualTo(1));
    }

    private static CredentialUse Use(string resource) => new()
    {
        CredentialFingerprint = CredentialUse.Fingerprint("t"),
        Outcome = CredentialUse.AllowedOutcome,
        At = CredentialUse.Rfc3339(DateTimeOffset.UnixEpoch),
        Audience = ToolServer.Resource,
        Resource = resource,
    };
}
