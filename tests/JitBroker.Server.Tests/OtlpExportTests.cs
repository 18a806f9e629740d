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

    private static bool Contains(byte[] haystack, string needle) => haystack.AsSpan().IndexOf(Encoding.UTF8.GetBytes(needle)) >= 0;
}
