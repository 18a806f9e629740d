using JitBroker.Audit;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>Issue 17 item 3: /readyz and grpc.health turn not-ready, naming the watermark, while the audit volume is below it.</summary>
[NonParallelizable]
public sealed class AuditDiskReadinessTests
{
    [Test]
    public async Task A_broker_whose_audit_volume_is_below_the_watermark_is_not_ready_and_says_why()
    {
        const long watermark = 1L << 40; // 1 TiB, the largest allowed: more than this test machine has free
        Assume.That(((IAuditFileSystem)PhysicalAuditFileSystem.Instance).VolumeSpace(Path.GetTempPath()).AvailableBytes, Is.LessThan(watermark));
        await using var broker = await BrokerServerFixture.StartAsync(new Dictionary<string, string?> { ["JitBroker:Audit:MinFreeBytes"] = watermark.ToString() });
        using var http = new HttpClient { BaseAddress = broker.HttpUri };

        var ready = await http.GetAsync("/readyz");
        var body = await ready.Content.ReadAsStringAsync();

        Assert.That((int)ready.StatusCode, Is.EqualTo(503));
        Assert.That(body, Does.StartWith("not ready: ").And.Contain("audit volume free space below watermark"));
        using var channel = JitBroker.Cli.GrpcChannels.For(broker.GrpcUri);
        var health = await new Grpc.Health.V1.Health.HealthClient(channel).CheckAsync(new Grpc.Health.V1.HealthCheckRequest());
        Assert.That(health.Status, Is.EqualTo(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.NotServing));
    }

    [Test]
    public async Task A_broker_with_room_on_its_audit_volume_is_ready()
    {
        await using var broker = await BrokerServerFixture.StartAsync(new Dictionary<string, string?> { ["JitBroker:Audit:MinFreeBytes"] = (1024 * 1024).ToString() });
        using var http = new HttpClient { BaseAddress = broker.HttpUri };

        Assert.That(await http.GetStringAsync("/readyz"), Is.EqualTo("ready"));
    }
}
