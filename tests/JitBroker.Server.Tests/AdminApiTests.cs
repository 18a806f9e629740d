using JitBroker.Cli;
using JitBroker.Protocol.V1;
using Grpc.Core;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// Issue 7: every admin operation through jitctl (a separate process) against a running broker — leases with
/// filters and paging, revocation by every selector, the kill switch, exit codes and JSON output.
/// </summary>
[NonParallelizable]
public sealed class AdminApiTests
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

    // Each jitctl process gets its own fresh token: the broker accepts an admin token once.
    private Task<CliResult> Admin(params string[] args) => Jitctl.RunAsync(_broker.GrpcUri, E2E.AdminSvid(_broker), args);

    [Test]
    public async Task Leases_filters_by_agent_task_state_and_kind_and_pages()
    {
        var agent = E2E.Agent("lister");
        var a1 = await E2E.IssueAsync(_broker, _client, agent, "list-a", "zendesk");
        var a2 = await E2E.IssueAsync(_broker, _client, agent, "list-a", "crm");
        var b1 = await E2E.IssueAsync(_broker, _client, agent, "list-b");
        var other = await E2E.IssueAsync(_broker, _client, E2E.Agent("bystander"), "list-a");
        await _client.EndTaskAsync(_broker.Svid(agent), "list-b");

        // Read-only queries: run the jitctl processes side by side.
        var queries = await Task.WhenAll(
            Admin("leases", "--agent", agent, "--json"),
            Admin("leases", "--task", "list-a", "--json"),
            Admin("leases", "--agent", agent, "--state", "revoked", "--json"),
            Admin("leases", "--agent", agent, "--state", "active", "--json"),
            Admin("leases", "--agent", agent, "--failed", "--json"),
            Admin("leases", "--agent", agent, "--kind", "jwt", "--json"),
            Admin("leases", "--agent", agent, "--kind", "vault-token", "--json"),
            Admin("leases", "--agent", agent),
            Admin("leases", "--state", "sleeping"),
            Admin("leases", "--agent", agent, "--expiring-within", "60", "--json"),
            Admin("leases", "--agent", agent, "--expiring-within", "600", "--json"));
        var (byAgent, byTask, revoked, active, failed, jwt, vault, table, badState) =
            (queries[0], queries[1], queries[2], queries[3], queries[4], queries[5], queries[6], queries[7], queries[8]);
        var (within60, within600) = (queries[9], queries[10]);

        Assert.That(byAgent.Code, Is.Zero, byAgent.ToString());
        Assert.That(E2E.LeasesIn(byAgent).Select(l => l.GetProperty("leaseId").GetString()),
            Is.EquivalentTo(new[] { a1.LeaseId, a2.LeaseId, b1.LeaseId }));
        Assert.That(E2E.LeasesIn(byAgent).Select(l => l.GetProperty("agentId").GetString()), Has.All.EqualTo(agent));
        Assert.That(E2E.LeasesIn(byTask).Select(l => l.GetProperty("leaseId").GetString()),
            Is.EquivalentTo(new[] { a1.LeaseId, a2.LeaseId, other.LeaseId }), "a task id alone spans agents");
        Assert.That(E2E.LeasesIn(revoked).Select(l => (l.GetProperty("leaseId").GetString(), l.GetProperty("state").GetString())),
            Is.EqualTo(new[] { (b1.LeaseId, "revoked") }));
        Assert.That(E2E.LeasesIn(active).Select(l => l.GetProperty("leaseId").GetString()), Is.EquivalentTo(new[] { a1.LeaseId, a2.LeaseId }));
        Assert.That(failed.Code, Is.Zero, failed.ToString());
        Assert.That(E2E.LeasesIn(failed), Is.Empty, "nothing of this agent is stuck in revoke_failed");
        Assert.That(E2E.LeasesIn(jwt), Has.Count.EqualTo(3));
        Assert.That(E2E.LeasesIn(vault), Is.Empty);
        Assert.That(table.Code, Is.Zero, table.ToString());
        Assert.That(table.Out, Does.Contain("LEASE").And.Contain(a1.LeaseId).And.Contain("list-b"));
        Assert.That(badState.Code, Is.EqualTo(2), "INVALID_ARGUMENT is a usage error: " + badState);
        Assert.That(E2E.LeasesIn(within60), Is.Empty, "the leases run for 120 s");
        Assert.That(E2E.LeasesIn(within600).Select(l => l.GetProperty("leaseId").GetString()), Is.SupersetOf(new[] { a1.LeaseId, a2.LeaseId }));

        var first = await Admin("leases", "--agent", agent, "--page-size", "2", "--json");
        var token = first.Json().GetProperty("nextPageToken").GetString()!;
        var second = await Admin("leases", "--agent", agent, "--page-size", "2", "--page-token", token, "--json");
        Assert.That(E2E.LeasesIn(first), Has.Count.EqualTo(2));
        Assert.That(E2E.LeasesIn(second), Has.Count.EqualTo(1));
        Assert.That(second.Json().TryGetProperty("nextPageToken", out _), Is.False, "the last page has no token");
        Assert.That(E2E.LeasesIn(first).Concat(E2E.LeasesIn(second)).Select(l => l.GetProperty("leaseId").GetString()),
            Is.EquivalentTo(new[] { a1.LeaseId, a2.LeaseId, b1.LeaseId }), "pages neither repeat nor skip a lease");

    }

    [Test]
    public async Task Revoke_by_lease_task_agent_and_pattern_and_broad_ones_need_yes()
    {
        var r1 = E2E.Agent("revoke-1");
        var l1 = await E2E.IssueAsync(_broker, _client, r1, "rv-1");
        var l2 = await E2E.IssueAsync(_broker, _client, r1, "rv-2");
        var l3 = await E2E.IssueAsync(_broker, _client, E2E.Agent("revoke-2"), "rv-3");
        var l4 = await E2E.IssueAsync(_broker, _client, E2E.Agent("revoke-3"), "rv-4");
        var l5 = await E2E.IssueAsync(_broker, _client, E2E.Agent("keeper"), "rv-5");

        var byLease = await Jitctl.RunWithIdentityCommandAsync(_broker, E2E.Alice, "revoke", "--lease", l1.LeaseId, "--reason", "test", "--wait", "--json");
        Assert.That(byLease.Code, Is.Zero, byLease.ToString());
        Assert.That(byLease.Json().GetProperty("done").GetBoolean(), Is.True, "--wait follows the revocation until it is done");
        Assert.That(byLease.Json().GetProperty("revoked").GetString(), Is.EqualTo("1"), "protobuf JSON writes int64 as a string");
        Assert.That(E2E.LeasesIn(await Admin("leases", "--agent", r1, "--state", "revoked", "--json")).Select(l => l.GetProperty("leaseId").GetString()),
            Is.EqualTo(new[] { l1.LeaseId }), "revoked in the ledger, not only refused");
        Assert.That(await E2E.IsActiveAsync(_broker, _client, l1.Credential.Token), Is.False);
        Assert.That(await E2E.IsActiveAsync(_broker, _client, l2.Credential.Token), Is.True, "only the named lease");

        var byTask = await Jitctl.RunWithIdentityCommandAsync(_broker, E2E.Alice, "revoke", "--task", "rv-2", "--agent", r1, "--wait");
        Assert.That(byTask.Code, Is.Zero, byTask.ToString());
        Assert.That(byTask.Out, Does.Contain("1 matched: 1 scheduled for revocation").And.Contain("all 1 revoked"));
        Assert.That(await E2E.IsActiveAsync(_broker, _client, l2.Credential.Token), Is.False);

        const string pattern = "spiffe://dev.jitbroker.local/agents/revoke-*";
        var unconfirmed = await Admin("revoke", "--agent-pattern", pattern);
        Assert.That(unconfirmed.Code, Is.EqualTo(2), unconfirmed.ToString());
        Assert.That(unconfirmed.Err, Does.Contain("--yes"));
        Assert.That(await E2E.IsActiveAsync(_broker, _client, l3.Credential.Token), Is.True, "refused: nothing revoked");

        // The server refuses an unconfirmed broad revocation on its own, whatever the client does.
        using (var admin = E2E.Admin(_broker))
        {
            var ex = Assert.ThrowsAsync<RpcException>(() => admin.RevokeAsync(new RevokeLeasesRequest { AgentPattern = pattern }));
            Assert.That(ex!.StatusCode, Is.EqualTo(StatusCode.FailedPrecondition));
            Assert.That(E2E.Reason(ex), Is.EqualTo("admin.confirmation_required"));
        }

        var confirmed = await Admin("revoke", "--agent-pattern", pattern, "--yes", "--json");
        Assert.That(confirmed.Code, Is.Zero, confirmed.ToString());
        Assert.That(confirmed.Json().GetProperty("scheduled").GetInt32(), Is.EqualTo(2), "revoke-2 and revoke-3; revoke-1's are already revoked");
        Assert.That(confirmed.Json().GetProperty("alreadyRevoked").GetInt32(), Is.EqualTo(2));
        // Without --wait the call returns once scheduled; the credentials are refused from that moment.
        Assert.That(await E2E.IsActiveAsync(_broker, _client, l3.Credential.Token), Is.False);
        Assert.That(await E2E.IsActiveAsync(_broker, _client, l4.Credential.Token), Is.False);
        Assert.That(await E2E.IsActiveAsync(_broker, _client, l5.Credential.Token), Is.True, "the pattern does not reach 'keeper'");

        var byAgent = await Admin("revoke", "--agent", E2E.Agent("keeper"), "--json");
        Assert.That(byAgent.Json().GetProperty("matched").GetInt32(), Is.EqualTo(1));
        Assert.That(await E2E.IsActiveAsync(_broker, _client, l5.Credential.Token), Is.False);

        var nothing = await Admin("revoke");
        Assert.That(nothing.Code, Is.EqualTo(2), "no selector is a usage error");
    }

    [Test]
    public async Task Revoke_all_needs_yes_and_then_revokes_everything()
    {
        var a = await E2E.IssueAsync(_broker, _client, E2E.Agent("all-1"), "all-1");
        var b = await E2E.IssueAsync(_broker, _client, E2E.Agent("all-2"), "all-2");

        var refused = await Admin("revoke", "--all");
        Assert.That(refused.Code, Is.EqualTo(2), refused.ToString());
        Assert.That(await E2E.IsActiveAsync(_broker, _client, a.Credential.Token), Is.True, "refused: nothing revoked");

        var all = await Admin("revoke", "--all", "--yes", "--json");
        Assert.That(all.Code, Is.Zero, all.ToString());
        Assert.That(all.Json().GetProperty("scheduled").GetInt32(), Is.GreaterThanOrEqualTo(2));
        Assert.That(await E2E.IsActiveAsync(_broker, _client, a.Credential.Token), Is.False);
        Assert.That(await E2E.IsActiveAsync(_broker, _client, b.Credential.Token), Is.False);
        Assert.That(E2E.LeasesIn(await Admin("leases", "--state", "active", "--json")), Is.Empty);
    }

    [Test]
    public async Task Block_revokes_refuses_new_requests_and_unblock_lifts_it()
    {
        var agent = E2E.Agent("compromised");
        var held = await E2E.IssueAsync(_broker, _client, agent, "blk-1");

        var block = await Admin("block", agent, "--reason", "prompt injection suspected", "--json");
        Assert.That(block.Code, Is.Zero, block.ToString());
        var json = block.Json();
        Assert.That(json.GetProperty("block").GetProperty("pattern").GetString(), Is.EqualTo(agent));
        Assert.That(json.GetProperty("block").GetProperty("blockedBy").GetString(), Is.EqualTo(E2E.Alice), "who did it");
        Assert.That(json.GetProperty("revocations").GetProperty("scheduled").GetInt32(), Is.EqualTo(1));
        Assert.That(await E2E.IsActiveAsync(_broker, _client, held.Credential.Token), Is.False, "existing leases revoked");

        var request = await Jitctl.RunAsync(_broker.GrpcUri, _broker.Svid(agent), "request", "--task", "blk-2", "--action", "tickets.read",
            "--audience", BrokerServerFixture.TicketsAudience, "--tool", "zendesk", "--resource", "tickets/1");
        Assert.That(request.Code, Is.EqualTo(4), request.ToString());
        Assert.That(request.Err, Does.Contain("PERMISSION_DENIED").And.Contain("prompt injection suspected"));
        var ex = Assert.ThrowsAsync<RpcException>(() => E2E.IssueAsync(_broker, _client, agent, "blk-3"));
        Assert.That((ex!.StatusCode, E2E.Reason(ex)), Is.EqualTo((StatusCode.PermissionDenied, "agent.blocked")));

        var blocks = await Admin("blocks", "--json");
        var listed = blocks.Json().GetProperty("blocks").EnumerateArray().Single(b => b.GetProperty("pattern").GetString() == agent);
        Assert.That(listed.GetProperty("reason").GetString(), Is.EqualTo("prompt injection suspected"));
        Assert.That((await Admin("blocks")).Out, Does.Contain(agent).And.Contain("BLOCKED BY"));

        Assert.That((await Admin("unblock", agent)).Code, Is.EqualTo(2), "--reason is required");
        var unblock = await Admin("unblock", agent, "--reason", "false alarm");
        Assert.That(unblock.Code, Is.Zero, unblock.ToString());
        Assert.That(unblock.Out.Trim(), Is.EqualTo("unblocked"));
        var again = await Admin("unblock", agent, "--reason", "again");
        Assert.That(again.Code, Is.EqualTo(1), "no such block → exit 1");
        Assert.That(await E2E.IssueAsync(_broker, _client, agent, "blk-4"), Has.Property("LeaseId").StartsWith("lease_"), "unblocked: requests work again");
    }

    [Test]
    public async Task A_pattern_block_stops_the_whole_fleet_and_needs_a_reason()
    {
        var f1 = await E2E.IssueAsync(_broker, _client, E2E.Agent("fleet-a1"), "fl-1");
        var f2 = await E2E.IssueAsync(_broker, _client, E2E.Agent("fleet-a2"), "fl-2");
        const string pattern = "spiffe://dev.jitbroker.local/agents/fleet-a*";

        Assert.That((await Admin("block", pattern)).Code, Is.EqualTo(2), "--reason is required");

        var block = await Admin("block", pattern, "--reason", "fleet incident");
        Assert.That(block.Code, Is.Zero, block.ToString());
        Assert.That(block.Out, Does.Contain("2 matched: 2 scheduled for revocation"));
        Assert.That(await E2E.IsActiveAsync(_broker, _client, f1.Credential.Token), Is.False);
        Assert.That(await E2E.IsActiveAsync(_broker, _client, f2.Credential.Token), Is.False);
        Assert.ThrowsAsync<RpcException>(() => E2E.IssueAsync(_broker, _client, E2E.Agent("fleet-a3"), "fl-3"), "a new member of the fleet is blocked too");
        Assert.That(await E2E.IssueAsync(_broker, _client, E2E.Agent("fleet-b1"), "fl-4"), Has.Property("LeaseId").StartsWith("lease_"));

        Assert.That((await Admin("unblock", pattern, "--reason", "contained")).Code, Is.Zero);
    }

    [Test]
    public async Task Exit_codes_for_unknown_ids_and_bad_identities()
    {
        var unknown = await Admin("approvals", "show", "apr_00000000000000000000000000000000");
        Assert.That(unknown.Code, Is.EqualTo(5), unknown.ToString());
        var garbage = await Jitctl.RunAsync(_broker.GrpcUri, "garbage", "leases");
        Assert.That(garbage.Code, Is.EqualTo(3), garbage.ToString());
        var none = await Jitctl.RunAsync(_broker.GrpcUri, null, "leases");
        Assert.That(none.Code, Is.EqualTo(2), none.ToString());
        var down = await Jitctl.RunAsync(new Uri("http://127.0.0.1:1"), E2E.AdminSvid(_broker), "leases", "--timeout", "2");
        Assert.That(down.Code, Is.EqualTo(6), "broker unreachable → UNAVAILABLE: " + down);
    }
}
