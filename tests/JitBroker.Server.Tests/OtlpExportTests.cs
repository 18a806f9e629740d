using System.Collections.Concurrent;
using System.Text;
using JitBroker.Cli;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// OTLP metrics push, received by an in-test OTLP/HTTP endpoint (a real Kestrel server on loopback
/// standing in for an OpenTelemetry collector; it checks the wire format, not a collector's processing).
/// </summary>
[NonParallelizable]
public sealed class OtlpExportTests
{
    [Test]
    public async Task Broker_metrics_are_pushed_as_otlp_protobuf_when_an_endpoint_is_configured()
    {
        var received = new ConcurrentQueue<(string ContentType, byte[] Body)>();
        var receiverBuilder = WebApplication.CreateSlimBuilder();
        receiverBuilder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var receiver = receiverBuilder.Build();
        receiver.MapPost("/v1/metrics", async (HttpContext context) =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            received.Enqueue((context.Request.ContentType ?? "", body.ToArray()));
            return Results.Ok();
        });
        await receiver.StartAsync();
        var address = receiver.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

        await using (var broker = await BrokerServerFixture.StartAsync(new Dictionary<string, string?>
        {
            ["JitBroker:Telemetry:OtlpEndpoint"] = address + "/v1/metrics",
            ["JitBroker:Telemetry:OtlpExportInterval"] = "00:00:00.200",
        }))
        {
            using var client = broker.Client();
            await client.RequestCredentialAsync(broker.Svid(), BrokerClient.NewRequest("otlp-1", "tickets.read", BrokerServerFixture.TicketsAudience, ["zendesk"], ["tickets/1"]));

            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (DateTime.UtcNow < deadline && !received.Any(r => Contains(r.Body, "jitbroker.requests")))
            {
                await Task.Delay(100);
            }
        }

        var export = received.FirstOrDefault(r => Contains(r.Body, "jitbroker.requests"));
        Assert.That(export.Body, Is.Not.Null, "an OTLP export carrying jitbroker.requests arrived");
        Assert.That(export.ContentType, Does.StartWith("application/x-protobuf"));
        Assert.That(Contains(export.Body, "JitBroker"), Is.True, "the meter (instrumentation scope) name travels with it");
    }

    [Test]
    public async Task A_span_per_request_step_is_pushed_over_otlp()
    {
        string[] steps = ["jitbroker.attest", "jitbroker.replay", "jitbroker.block", "jitbroker.decide", "jitbroker.mint", "jitbroker.record", "jitbroker.audit"];
        var received = new ConcurrentQueue<(string ContentType, byte[] Body)>();
        var receiverBuilder = WebApplication.CreateSlimBuilder();
        receiverBuilder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var receiver = receiverBuilder.Build();
        receiver.MapPost("/v1/{signal}", async (HttpContext context, string signal) =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            if (signal == "traces")
            {
                received.Enqueue((context.Request.ContentType ?? "", body.ToArray()));
            }

            return Results.Ok();
        });
        await receiver.StartAsync();
        var address = receiver.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

        await using (var broker = await BrokerServerFixture.StartAsync(new Dictionary<string, string?>
        {
            // Traces go to …/v1/traces beside the metrics URL unless OtlpTracesEndpoint says otherwise.
            ["JitBroker:Telemetry:OtlpEndpoint"] = address + "/v1/metrics",
            ["JitBroker:Telemetry:OtlpExportInterval"] = "00:00:00.200",
        }))
        {
            using var client = broker.Client();
            await client.RequestCredentialAsync(broker.Svid(), BrokerClient.NewRequest("trace-1", "tickets.read", BrokerServerFixture.TicketsAudience, ["zendesk"], ["tickets/1"]));

            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (DateTime.UtcNow < deadline && !steps.All(step => received.Any(r => Contains(r.Body, step))))
            {
                await Task.Delay(100);
            }
        }

        Assert.That(received, Is.Not.Empty, "an OTLP trace export arrived");
        Assert.That(received.First().ContentType, Does.StartWith("application/x-protobuf"));
        foreach (var step in steps)
        {
            Assert.That(received.Any(r => Contains(r.Body, step)), Is.True, $"a span named {step} was exported");
        }

        Assert.That(received.Any(r => Contains(r.Body, "JitBroker")), Is.True, "the activity source (instrumentation scope) name travels with it");
        Assert.That(received.Any(r => Contains(r.Body, "eyJ")), Is.False, "no JWT (base64url JSON header) appears in any span");
    }

    private static bool Contains(byte[] haystack, string needle) => haystack.AsSpan().IndexOf(Encoding.UTF8.GetBytes(needle)) >= 0;
}
