using System.Text.Json;
using JitBroker.Protocol.V1;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// Issue 8 over the wire: planner → worker → sub-worker → sub-sub-worker through jitctl processes against a
/// running broker, every attenuation violation refused, and EndTask on the root killing the whole chain.
/// </summary>
[NonParallelizable]
public sealed class DelegationE2ETests
{
    private const string Policy = """
        version: 1
        rules:
          - id: planner-tickets
            effect: allow
            principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/agents/planner"] }
            actions: ["tickets.update"]
            tools: ["zendesk", "crm"]
            resources: ["tickets/*"]
            credential: { kind: jwt, audiences: ["https://tickets.internal.example"], max_ttl: 10m }
        delegations:
          - id: planner-to-workers
            from: { spiffe_ids: ["spiffe://dev.jitbroker.local/agents/planner"] }
            to: ["spiffe://dev.jitbroker.local/workers/*"]
            actions: ["tickets.*"]
            max_depth: 3
          - id: workers-to-workers
            from: { spiffe_ids: ["spiffe://dev.jitbroker.local/workers/*"] }
            to: ["spiffe://dev.jitbroker.local/workers/*"]
            actions: ["tickets.*"]
            max_depth: 3
        """;

    private const string Planner = "spiffe://dev.jitbroker.local/agents/planner";

    private static string Worker(int n) => $"spiffe://dev.jitbroker.local/workers/w{n}";

    [Test]
    public async Task Three_hops_through_jitctl_narrow_every_time_and_die_with_the_root()
    {
        using var policy = new PolicyDirectory().Write("10-delegation.yaml", Policy);
        await using var broker = await BrokerServerFixture.StartAsync(new Dictionary<string, string?> { ["JitBroker:Policy:Path"] = policy.Path });
        var planner = broker.Svid(Planner);
        var root = await Jitctl.RunAsync(broker.GrpcUri, planner, "request", "--task", "deleg-1", "--action", "tickets.update",
            "--audience", BrokerServerFixture.TicketsAudience, "--tool", "zendesk", "--tool", "crm", "--resource", "tickets/1", "--resource", "tickets/2", "--json");
        Assert.That(root.Code, Is.Zero, root.Err);
        var rootLease = JsonDocument.Parse(root.Out).RootElement.GetProperty("leaseId").GetString()!;

        // hop 1: planner → w1 (drops crm and tickets/2); hop 2: w1 → w2; hop 3: w2 → w3
        var (lease1, token1) = await HopAsync(broker, planner, rootLease, 1, ["--tool", "zendesk", "--resource", "tickets/1"]);
        var (lease2, _) = await HopAsync(broker, broker.Svid(Worker(1)), lease1, 2, ["--tool", "zendesk", "--resource", "tickets/1"]);
        var (lease3, token3) = await HopAsync(broker, broker.Svid(Worker(2)), lease2, 3, ["--tool", "zendesk"]);

        var claims = JsonDocument.Parse(Convert.FromBase64String(Pad(token3.Split('.')[1]))).RootElement;
        Assert.Multiple(() =>
        {
            Assert.That(claims.GetProperty("sub").GetString(), Is.EqualTo(Planner));
            Assert.That(claims.GetProperty("act").GetProperty("sub").GetString(), Is.EqualTo(Worker(3)));
            Assert.That(claims.GetProperty("act").GetProperty("act").GetProperty("sub").GetString(), Is.EqualTo(Worker(2)));
            Assert.That(claims.GetProperty("act").GetProperty("act").GetProperty("act").GetProperty("sub").GetString(), Is.EqualTo(Worker(1)));
            Assert.That(claims.GetProperty("tools").EnumerateArray().Select(t => t.GetString()), Is.EqualTo(new[] { "zendesk" }));
        });

        // A fourth hop exceeds max_depth 3; widening is refused at any hop.
        var tooDeep = await Jitctl.RunAsync(broker.GrpcUri, broker.Svid(Worker(3)), "offer-delegation", "--parent-lease", lease3, "--worker", Worker(4), "--tool", "zendesk");
        Assert.That(tooDeep.Code, Is.EqualTo(4));
        Assert.That(tooDeep.Err, Does.Contain("delegation.too_deep"));
        var widen = await Jitctl.RunAsync(broker.GrpcUri, broker.Svid(Worker(1)), "offer-delegation", "--parent-lease", lease1, "--worker", Worker(5), "--tool", "crm");
        Assert.That(widen.Code, Is.EqualTo(4));
        Assert.That(widen.Err, Does.Contain("delegation.widening").And.Contain("crm"));
        var stranger = await Jitctl.RunAsync(broker.GrpcUri, broker.Svid("spiffe://dev.jitbroker.local/agents/intruder"), "offer-delegation",
            "--parent-lease", rootLease, "--worker", Worker(6), "--tool", "zendesk");
        Assert.That(stranger.Code, Is.EqualTo(5), "someone else's lease is not found");

        var ended = await Jitctl.RunAsync(broker.GrpcUri, planner, "end-task", "--task", "deleg-1", "--json");
        Assert.That(ended.Code, Is.Zero, ended.Err);
        var revoked = JsonDocument.Parse(ended.Out).RootElement.GetProperty("leases").EnumerateArray().Select(l => l.GetProperty("leaseId").GetString()).ToList();
        Assert.That(revoked, Is.EquivalentTo(new[] { rootLease, lease1, lease2, lease3 }));
        var check = await Jitctl.RunAsync(broker.GrpcUri, broker.Svid(BrokerServerFixture.ResourceServer), "introspect", "--credential", token1);
        Assert.That(check.Code, Is.EqualTo(1), "a worker's delegated credential is inactive once the root task ended");
    }

    private static async Task<(string Lease, string Token)> HopAsync(BrokerServerFixture broker, string fromIdentity, string parentLease, int worker, string[] scope)
    {
        var offer = await Jitctl.RunAsync(broker.GrpcUri, fromIdentity, ["offer-delegation", "--parent-lease", parentLease, "--worker", Worker(worker), .. scope]);
        Assert.That(offer.Code, Is.Zero, offer.Err);
        var redeemed = await Jitctl.RunAsync(broker.GrpcUri, broker.Svid(Worker(worker)), "delegate", "--offer", offer.Out.Trim(), "--json");
        Assert.That(redeemed.Code, Is.Zero, redeemed.Err);
        var json = JsonDocument.Parse(redeemed.Out).RootElement;
        Assert.That(json.GetProperty("parentLeaseId").GetString(), Is.EqualTo(parentLease));
        return (json.GetProperty("leaseId").GetString()!, json.GetProperty("credential").GetProperty("token").GetString()!);
    }

    private static string Pad(string s) => s.Replace('-', '+').Replace('_', '/').PadRight(s.Length + ((4 - (s.Length % 4)) % 4), '=');
}
