using JitBroker.Cli;
using JitBroker.Protocol.V1;
using Grpc.Core;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>Issue 7: an agent identity calling the admin API gets PERMISSION_DENIED — on every method, always, and changes nothing.</summary>
[NonParallelizable]
public sealed class AdminAuthorizationTests
{
    private AnyAgentTicketsBroker _tickets = null!;
    private BrokerServerFixture _broker = null!;
    private BrokerClient _client = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _tickets = await AnyAgentTicketsBroker.StartAsync([E2E.AdminPattern]);
        _broker = _tickets.Broker;
        _client = _broker.Client();
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        _client.Dispose();
        await _tickets.DisposeAsync();
    }

    [Test]
    public async Task Every_admin_method_refuses_an_agent_over_grpc()
    {
        var agent = E2E.Agent("sneaky");
        var held = await E2E.IssueAsync(_broker, _client, agent, "sneak-1");
        using var admin = new AdminClient(_broker.AdminUri, _broker.Svid(agent), TimeSpan.FromSeconds(10));
        var calls = new (string Method, Func<Task> Call)[]
        {
            ("ListLeases", () => admin.ListLeasesAsync(new ListLeasesRequest())),
            ("RevokeLeases", () => admin.RevokeAsync(new RevokeLeasesRequest { All = true, Confirm = true })),
            ("BlockAgent", () => admin.BlockAsync(new BlockAgentRequest { Pattern = E2E.Agent("victim"), Reason = "x" })),
            ("UnblockAgent", () => admin.UnblockAsync(new UnblockAgentRequest { Pattern = E2E.Agent("victim"), Reason = "x" })),
            ("ListBlocks", () => admin.ListBlocksAsync()),
            ("ListApprovals", () => admin.ListApprovalsAsync(10)),
            ("GetApproval", () => admin.GetApprovalAsync("apr_x")),
            ("DecideApproval", () => admin.DecideApprovalAsync("apr_x", true, "")),
            ("TailAudit", () => admin.TailAuditAsync(10)),
            ("VerifyAudit", () => admin.VerifyAuditAsync()),
        };

        // Twice: "always" — a first refusal does not open anything for the second call.
        for (var round = 0; round < 2; round++)
        {
            foreach (var (method, call) in calls)
            {
                var ex = Assert.ThrowsAsync<RpcException>(() => call(), method);
                Assert.That((ex!.StatusCode, E2E.Reason(ex)), Is.EqualTo((StatusCode.PermissionDenied, "admin.not_an_admin")), method);
            }
        }

        Assert.That(await E2E.IsActiveAsync(_broker, _client, held.Credential.Token), Is.True, "the refused revoke-all changed nothing");
        using var realAdmin = E2E.Admin(_broker);
        Assert.That((await realAdmin.ListBlocksAsync()).Blocks, Is.Empty, "the refused block changed nothing");
    }

    [Test]
    public async Task Every_jitctl_admin_command_exits_4_for_an_agent()
    {
        var agent = E2E.Agent("sneaky-cli");
        var held = await E2E.IssueAsync(_broker, _client, agent, "sneak-cli-1");
        var identity = _broker.Svid(agent);
        string[][] commands =
        [
            ["leases"],
            ["revoke", "--lease", held.LeaseId],
            ["revoke", "--all", "--yes"],
            ["block", agent, "--reason", "self"],
            ["unblock", agent, "--reason", "self"],
            ["blocks"],
            ["approvals", "list"],
            ["approvals", "show", "apr_x"],
            ["approvals", "approve", "apr_x"],
            ["approvals", "deny", "apr_x"],
        ];

        var results = await Task.WhenAll(commands.Select(c => Jitctl.RunAsync(_broker.GrpcUri, identity, [.. c, "--json"])));

        for (var i = 0; i < commands.Length; i++)
        {
            Assert.That(results[i].Code, Is.EqualTo(4), string.Join(' ', commands[i]) + "\n" + results[i]);
            Assert.That(results[i].Err, Does.Contain("PERMISSION_DENIED"), string.Join(' ', commands[i]));
            Assert.That(results[i].Out, Is.Empty, "nothing is printed for a refused call");
        }

        Assert.That(await E2E.IsActiveAsync(_broker, _client, held.Credential.Token), Is.True, "nothing was revoked");
        Assert.That(await E2E.IssueAsync(_broker, _client, agent, "sneak-cli-2"), Has.Property("LeaseId").StartsWith("lease_"), "nothing was blocked");
    }

    [Test]
    public void An_admin_svid_for_another_audience_is_unauthenticated_not_an_admin()
    {
        var wrongAudience = _broker.Dev.MintSvid(E2E.Alice, "someone-else", TimeSpan.FromMinutes(5));
        using var admin = new AdminClient(_broker.AdminUri, wrongAudience, TimeSpan.FromSeconds(10));
        var ex = Assert.ThrowsAsync<RpcException>(() => admin.ListLeasesAsync(new ListLeasesRequest()));
        Assert.That(ex!.StatusCode, Is.EqualTo(StatusCode.Unauthenticated));
    }

    [Test]
    public void Admin_requests_without_authorization_are_unauthenticated()
    {
        using var channel = GrpcChannels.For(_broker.AdminUri);
        var ex = Assert.ThrowsAsync<RpcException>(async () => await new BrokerAdmin.BrokerAdminClient(channel).ListBlocksAsync(new ListBlocksRequest()));
        Assert.That(ex!.StatusCode, Is.EqualTo(StatusCode.Unauthenticated));
    }
}
