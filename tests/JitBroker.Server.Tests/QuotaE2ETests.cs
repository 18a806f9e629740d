using Grpc.Core;
using JitBroker.Core;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>Quota refusals on the wire: RESOURCE_EXHAUSTED, the reason trailer and a retry hint.</summary>
public sealed class QuotaE2ETests
{
    [Test]
    public async Task An_agent_past_its_rate_gets_resource_exhausted_with_the_reason_and_a_retry_hint()
    {
        using var policy = new PolicyDirectory().Write("10-agents.yaml", E2E.AnyAgentTicketsPolicy);
        await using var broker = await BrokerServerFixture.StartAsync(new Dictionary<string, string?>
        {
            ["JitBroker:Policy:Path"] = policy.Path,
            // One token, refilled every 100 s: the second request within the test is always refused.
            ["JitBroker:Broker:Quotas:RatePerSecond"] = "0.01",
            ["JitBroker:Broker:Quotas:Burst"] = "1",
        });
        using var client = broker.Client();
        var agent = E2E.Agent("looping");
        await client.RequestCredentialAsync(broker.Svid(agent), E2E.Tickets("q-1"));

        var refused = Assert.ThrowsAsync<RpcException>(() => client.RequestCredentialAsync(broker.Svid(agent), E2E.Tickets("q-2")));

        Assert.That(refused!.StatusCode, Is.EqualTo(StatusCode.ResourceExhausted));
        Assert.That(E2E.Reason(refused), Is.EqualTo(Reasons.Quota.RateExceeded));
        var retryAfter = long.Parse(refused.Trailers.GetValue(WireErrors.RetryAfterTrailer)!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.That(retryAfter, Is.InRange(1, 100_000));
        Assert.That(refused.Trailers.GetValue(WireErrors.RetryPushbackTrailer), Is.EqualTo(retryAfter.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        var other = await client.RequestCredentialAsync(broker.Svid(E2E.Agent("bystander")), E2E.Tickets("q-3"));
        Assert.That(other.LeaseId, Is.Not.Empty, "another agent is not limited by this one's bucket");
    }

    [Test]
    public void A_refusal_without_a_retry_hint_carries_no_retry_trailer()
    {
        var rpc = WireErrors.ToRpc(new BrokerException(BrokerFailure.ResourceExhausted, Reasons.Quota.ActiveLeasesPerAgent, "full"));

        Assert.That(rpc.StatusCode, Is.EqualTo(StatusCode.ResourceExhausted));
        Assert.That(rpc.Trailers.GetValue(WireErrors.RetryAfterTrailer), Is.Null);
        Assert.That(rpc.Trailers.GetValue(WireErrors.RetryPushbackTrailer), Is.Null);
    }

    [Test]
    public void A_retry_hint_is_sent_in_whole_milliseconds_rounded_up()
    {
        var rpc = WireErrors.ToRpc(new BrokerException(BrokerFailure.ResourceExhausted, Reasons.Quota.RateExceeded, "slow down")
        {
            RetryAfter = TimeSpan.FromMilliseconds(1234.2),
        });

        Assert.That(rpc.Trailers.GetValue(WireErrors.RetryAfterTrailer), Is.EqualTo("1235"));
        Assert.That(rpc.Trailers.GetValue(WireErrors.RetryPushbackTrailer), Is.EqualTo("1235"));
    }
}
