using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using JitBroker.Protocol.V1;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// Issue 17 item 2 over the wire: a worker renewing its delegated JWT gets one that still names the planner as
/// <c>sub</c> and itself in <c>act</c>, never outlives the planner's lease (even though the worker's own rule would allow
/// longer), follows the planner's lease when that is renewed, and dies with it.
/// </summary>
[NonParallelizable]
public sealed class DelegatedRenewalE2ETests
{
    private const string Planner = "spiffe://dev.jitbroker.local/agents/planner";
    private const string Worker = "spiffe://dev.jitbroker.local/workers/w1";

    // The worker has a rule of its own, longer than the planner's lease: renewal must not use it.
    private const string Policy = """
        version: 1
        rules:
          - id: planner-tickets
            effect: allow
            principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/agents/planner"] }
            actions: ["tickets.update"]
            tools: ["zendesk"]
            resources: ["tickets/*"]
            credential: { kind: jwt, audiences: ["https://tickets.internal.example"], max_ttl: 10m }
          - id: workers-own-rule
            effect: allow
            principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/workers/*"] }
            actions: ["tickets.update"]
            tools: ["zendesk"]
            resources: ["tickets/*"]
            credential: { kind: jwt, audiences: ["https://tickets.internal.example"], max_ttl: 10m }
        delegations:
          - id: planner-to-workers
            from: { spiffe_ids: ["spiffe://dev.jitbroker.local/agents/planner"] }
            to: ["spiffe://dev.jitbroker.local/workers/*"]
            actions: ["tickets.*"]
            max_depth: 1
        """;

    [Test]
    public async Task A_renewed_delegated_jwt_keeps_sub_and_act_and_never_outlives_its_parent()
    {
        using var policy = new PolicyDirectory().Write("10-delegation.yaml", Policy);
        await using var broker = await BrokerServerFixture.StartAsync(new Dictionary<string, string?> { ["JitBroker:Policy:Path"] = policy.Path });
        using var client = broker.Client();
        var root = await client.RequestCredentialAsync(broker.Svid(Planner),
            Cli.BrokerClient.NewRequest("deleg-renew", "tickets.update", BrokerServerFixture.TicketsAudience, ["zendesk"], ["tickets/1"], "e2e", TimeSpan.FromMinutes(2)));
        var offer = await client.OfferDelegationAsync(broker.Svid(Planner), new OfferDelegationRequest
        {
            ParentLeaseId = root.LeaseId, WorkerId = Worker, Tools = { "zendesk" }, Resources = { "tickets/1" }, RequestedTtl = Duration.FromTimeSpan(TimeSpan.FromMinutes(1)),
        });
        var child = await client.DelegateAsync(broker.Svid(Worker), new DelegateCredentialRequest { Offer = offer.Offer });

        var renewed = await E2E.RenewAsync(broker, broker.Svid(Worker), child.LeaseId, TimeSpan.FromMinutes(10));

        var claims = Payload(renewed.Credential.Token);
        Assert.Multiple(() =>
        {
            Assert.That(claims.GetProperty("sub").GetString(), Is.EqualTo(Planner), "the planner's grant, as at issue");
            Assert.That(claims.GetProperty("act").GetProperty("sub").GetString(), Is.EqualTo(Worker));
            Assert.That(claims.GetProperty("client_id").GetString(), Is.EqualTo(Worker));
            Assert.That(renewed.ExpiresAt.ToDateTimeOffset(), Is.GreaterThan(child.ExpiresAt.ToDateTimeOffset()), "it was renewed");
            Assert.That(renewed.ExpiresAt.ToDateTimeOffset(), Is.LessThanOrEqualTo(root.ExpiresAt.ToDateTimeOffset()), "but not past the planner's lease");
            Assert.That(claims.GetProperty("exp").GetInt64(), Is.LessThanOrEqualTo(root.ExpiresAt.Seconds));
        });

        // The planner's lease is renewed: the worker's may follow it, no further.
        var parentRenewed = await E2E.RenewAsync(broker, broker.Svid(Planner), root.LeaseId, TimeSpan.FromMinutes(5));
        var followed = await E2E.RenewAsync(broker, broker.Svid(Worker), child.LeaseId, TimeSpan.FromMinutes(10));
        Assert.That(followed.ExpiresAt.ToDateTimeOffset(), Is.GreaterThan(renewed.ExpiresAt.ToDateTimeOffset()));
        Assert.That(followed.ExpiresAt.ToDateTimeOffset(), Is.LessThanOrEqualTo(parentRenewed.ExpiresAt.ToDateTimeOffset()));

        // The planner's task ends: the worker's lease cannot be renewed any more.
        await client.EndTaskAsync(broker.Svid(Planner), "deleg-renew");
        var dead = Assert.ThrowsAsync<RpcException>(() => E2E.RenewAsync(broker, broker.Svid(Worker), child.LeaseId, TimeSpan.FromMinutes(1)));
        Assert.That(dead!.StatusCode, Is.EqualTo(StatusCode.FailedPrecondition));
    }

    private static JsonElement Payload(string jwt)
    {
        var segment = jwt.Split('.')[1].Replace('-', '+').Replace('_', '/');
        return JsonDocument.Parse(Convert.FromBase64String(segment.PadRight(segment.Length + ((4 - (segment.Length % 4)) % 4), '='))).RootElement.Clone();
    }
}
