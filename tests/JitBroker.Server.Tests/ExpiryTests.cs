using JitBroker.Cli;
using JitBroker.Core;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>TTL expiry through the real Quartz sweeper in a running broker (short TTLs, bounded polling).</summary>
[NonParallelizable]
public sealed class ExpiryTests
{
    [Test]
    public async Task An_expired_lease_is_revoked_by_the_sweeper_and_introspects_inactive()
    {
        await using var broker = await BrokerServerFixture.StartAsync(new Dictionary<string, string?>
        {
            ["JitBroker:Broker:MinTtl"] = "00:00:01",
            ["JitBroker:Revocation:SweepInterval"] = "00:00:00.100",
        });
        using var client = broker.Client();
        var svid = broker.Svid();
        var request = BrokerClient.NewRequest("expiry-1", "tickets.read", BrokerServerFixture.TicketsAudience, ["zendesk"], ["tickets/9"], ttl: TimeSpan.FromSeconds(1));

        var issued = await client.RequestCredentialAsync(svid, request);
        Assert.That((await client.IntrospectAsync(svid, issued.Credential.Token)).Active, Is.True);

        var store = broker.Services.GetRequiredService<ILeaseLedger>();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        Lease? lease;
        do
        {
            await Task.Delay(100);
            lease = await store.GetAsync(issued.LeaseId);
        }
        while (lease?.State != LeaseState.Revoked && DateTime.UtcNow < deadline);

        Assert.That(lease?.State, Is.EqualTo(LeaseState.Revoked), "the sweeper revokes a lease once its TTL has passed");
        Assert.That(lease!.RevokedAt, Is.GreaterThanOrEqualTo(lease.ExpiresAt));
        Assert.That((await client.IntrospectAsync(svid, issued.Credential.Token)).Active, Is.False);
    }
}
