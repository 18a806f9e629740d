using Grpc.Core;
using JitBroker.Cli;
using JitBroker.Protocol.V1;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>Issue 17 item 5 over the wire: an admin token serves one call, a blocked operator is refused, refusals are audited; jitctl copes.</summary>
[NonParallelizable]
public sealed class AdminReplayTests
{
    private AnyAgentTicketsBroker _tickets = null!;
    private BrokerServerFixture _broker = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _tickets = await AnyAgentTicketsBroker.StartAsync([E2E.AdminPattern, "spiffe://dev.jitbroker.local/humans/leads/*"]);
        _broker = _tickets.Broker;
    }

    [OneTimeTearDown]
    public async Task Stop() => await _tickets.DisposeAsync();

    [Test]
    public async Task A_replayed_admin_token_is_unauthenticated_and_the_refusal_is_in_the_audit_log()
    {
        using var captured = new AdminClient(_broker.AdminUri, E2E.AdminSvid(_broker), TimeSpan.FromSeconds(10));
        await captured.ListBlocksAsync();

        var ex = Assert.ThrowsAsync<RpcException>(() => captured.ListBlocksAsync());

        Assert.That((ex!.StatusCode, E2E.Reason(ex)), Is.EqualTo((StatusCode.Unauthenticated, "token.replayed")));
        using var admin = E2E.Admin(_broker);
        var tail = string.Join('\n', (await admin.TailAuditAsync(20)).Records);
        Assert.That(tail, Does.Contain("\"admin.refused\"").And.Contain("token.replayed").And.Contain("/jitbroker.v1.BrokerAdmin/ListBlocks"));
    }

    [Test]
    public async Task A_blocked_operator_cannot_administer_until_another_operator_lifts_the_block()
    {
        using var alice = E2E.Admin(_broker);
        using var lena = E2E.Admin(_broker, E2E.Lead);
        await alice.BlockAsync(new BlockAgentRequest { Pattern = E2E.Lead, Reason = "credentials phished" });

        var ex = Assert.ThrowsAsync<RpcException>(() => lena.UnblockAsync(new UnblockAgentRequest { Pattern = E2E.Lead, Reason = "it's fine" }));

        Assert.That((ex!.StatusCode, E2E.Reason(ex)), Is.EqualTo((StatusCode.PermissionDenied, "admin.blocked")));
        Assert.That((await alice.ListBlocksAsync()).Blocks.Select(b => b.Pattern), Does.Contain(E2E.Lead), "the block stands");
        Assert.That((await alice.UnblockAsync(new UnblockAgentRequest { Pattern = E2E.Lead, Reason = "phish contained" })).Removed, Is.True);
        Assert.That(await lena.ListBlocksAsync(), Is.Not.Null, "lifted by another operator");
    }

    [Test]
    public async Task Jitctl_with_one_fixed_token_refuses_a_second_call_and_names_the_identity_command()
    {
        var target = E2E.Agent("wait-target");

        var fixedToken = await Jitctl.RunAsync(_broker.GrpcUri, E2E.AdminSvid(_broker), "block", target, "--reason", "test", "--wait");
        Assert.That(fixedToken.Code, Is.EqualTo(ExitCodes.Usage), fixedToken.ToString());
        Assert.That(fixedToken.Err, Does.Contain("--identity-command"));

        var fresh = await Jitctl.RunWithIdentityCommandAsync(_broker, E2E.Alice, "unblock", target, "--reason", "test");
        Assert.That(fresh.Code, Is.Zero, fresh.ToString());
        Assert.That(fresh.Err, Does.Not.Contain("eyJ"), "the command's token is never printed");
    }
}
