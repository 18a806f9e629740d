using Grpc.Core;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// Issue 17 item 6 over the wire: IntrospectCredential answers configured resource servers
/// (<c>JitBroker:Introspection:ResourceServers</c>) and the token's own agent; any other attested caller gets
/// PERMISSION_DENIED with <c>introspection.caller_not_allowed</c>, whatever it sends.
/// </summary>
[NonParallelizable]
public sealed class IntrospectionAccessE2ETests
{
    [Test]
    public async Task Only_resource_servers_and_the_tokens_own_agent_are_answered()
    {
        await using var broker = await BrokerServerFixture.StartAsync();
        using var client = broker.Client();
        var issued = await E2E.IssueAsync(broker, client, BrokerServerFixture.SupportBot, "introspect-access");
        var token = issued.Credential.Token;

        var byTool = await client.IntrospectAsync(broker.Svid(BrokerServerFixture.ResourceServer), token);
        var byOwner = await client.IntrospectAsync(broker.Svid(BrokerServerFixture.SupportBot), token);
        var byStranger = Assert.ThrowsAsync<RpcException>(() => client.IntrospectAsync(broker.Svid(E2E.Agent("stranger")), token));
        var scanning = Assert.ThrowsAsync<RpcException>(() => client.IntrospectAsync(broker.Svid(E2E.Agent("stranger")), "not-a-token"));

        Assert.Multiple(() =>
        {
            Assert.That(byTool.Active, Is.True);
            Assert.That(byTool.LeaseId, Is.EqualTo(issued.LeaseId));
            Assert.That(byOwner.Active, Is.True);
            Assert.That(byStranger!.StatusCode, Is.EqualTo(StatusCode.PermissionDenied));
            Assert.That(E2E.Reason(byStranger), Is.EqualTo("introspection.caller_not_allowed"));
            Assert.That(scanning!.StatusCode, Is.EqualTo(StatusCode.PermissionDenied), "no oracle: garbage is refused the same way");
            Assert.That(E2E.Reason(scanning), Is.EqualTo("introspection.caller_not_allowed"));
        });
    }

    [Test]
    public async Task Without_resource_servers_configured_an_agent_still_introspects_its_own_token_only()
    {
        await using var broker = await BrokerServerFixture.StartAsync(new Dictionary<string, string?> { ["JitBroker:Introspection:ResourceServers:0"] = null });
        using var client = broker.Client();
        var issued = await E2E.IssueAsync(broker, client, BrokerServerFixture.SupportBot, "introspect-none");

        var byOwner = await client.IntrospectAsync(broker.Svid(BrokerServerFixture.SupportBot), issued.Credential.Token);
        var byTool = Assert.ThrowsAsync<RpcException>(() => client.IntrospectAsync(broker.Svid(BrokerServerFixture.ResourceServer), issued.Credential.Token));

        Assert.That(byOwner.Active, Is.True);
        Assert.That(byTool!.StatusCode, Is.EqualTo(StatusCode.PermissionDenied), "nobody is a resource server unless configured");
    }
}
