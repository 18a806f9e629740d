using System.Text.Json;
using JitBroker.Cli;
using Grpc.Core;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// Issue 4, continuous evaluation through a running broker: RenewCredential (extends within the original maximum,
/// retires the old JWT), and a hot-reloaded policy directory that revokes what it no longer grants — while a
/// broken policy file leaves the policy in force.
/// </summary>
[NonParallelizable]
public sealed class RenewAndReloadTests
{
    private const string ShortTickets = """
        version: 1
        rules:
          - id: tickets-short
            effect: allow
            principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/agents/*"] }
            actions: ["tickets.read"]
            tools: ["zendesk", "crm"]
            resources: ["tickets/*"]
            credential: { kind: jwt, audiences: ["https://tickets.internal.example"], max_ttl: 2m }
        """;

    [Test]
    public async Task Renewal_extends_within_the_original_maximum_and_retires_the_old_jwt()
    {
        using var policy = new PolicyDirectory().Write("10-tickets.yaml", ShortTickets);
        await using var broker = await BrokerServerFixture.StartAsync(new Dictionary<string, string?> { ["JitBroker:Policy:Path"] = policy.Path });
        using var client = broker.Client();
        var svid = broker.Svid(E2E.Agent("renewer"));
        var issued = await client.RequestCredentialAsync(svid, E2E.Tickets("renew-1", ttlSeconds: 30));
        var issuedExpiry = issued.ExpiresAt.ToDateTimeOffset();

        var renewed = await E2E.RenewAsync(broker, svid, issued.LeaseId, TimeSpan.FromSeconds(60));
        Assert.That(renewed.LeaseId, Is.EqualTo(issued.LeaseId), "the same lease, extended");
        Assert.That(renewed.ExpiresAt.ToDateTimeOffset(), Is.GreaterThan(issuedExpiry.AddSeconds(20)));
        Assert.That(renewed.Credential.Token, Is.Not.Empty.And.Not.EqualTo(issued.Credential.Token), "a JWT is re-minted with the new expiry");
        Assert.That(await E2E.IsActiveAsync(broker, client, issued.Credential.Token), Is.False, "the old JWT is retired");
        Assert.That(await E2E.IsActiveAsync(broker, client, renewed.Credential.Token), Is.True);

        // Asking for far more than the rule allows is capped at issue time + the rule's 2m.
        var capped = await E2E.RenewAsync(broker, svid, issued.LeaseId, TimeSpan.FromMinutes(14));
        var issuedAt = issuedExpiry.AddSeconds(-30);
        Assert.That(capped.ExpiresAt.ToDateTimeOffset(), Is.EqualTo(issuedAt.AddMinutes(2)).Within(TimeSpan.FromSeconds(2)));
        var jwtExpiry = JsonDocument.Parse(Convert.FromBase64String(Pad(capped.Credential.Token.Split('.')[1]))).RootElement.GetProperty("exp").GetInt64();
        Assert.That(jwtExpiry, Is.EqualTo(capped.ExpiresAt.Seconds).Within(1), "the JWT itself carries the capped expiry");

        // Asking again at the maximum is refused (Renewing_a_lease_that_already_runs_to_its_maximum_is_refused).

        var stranger = Assert.ThrowsAsync<RpcException>(() => E2E.RenewAsync(broker, broker.Svid(E2E.Agent("stranger")), issued.LeaseId));
        Assert.That(stranger!.StatusCode, Is.EqualTo(StatusCode.NotFound), "another agent's lease is indistinguishable from none");

        await client.EndTaskAsync(svid, "renew-1");
        var ended = Assert.ThrowsAsync<RpcException>(() => E2E.RenewAsync(broker, svid, issued.LeaseId));
        Assert.That(E2E.Reason(ended!), Is.EqualTo("lease.not_active"));
    }

    [Test]
    public async Task Renewing_a_lease_that_already_runs_to_its_maximum_is_refused()
    {
        using var policy = new PolicyDirectory().Write("10-tickets.yaml", ShortTickets);
        await using var broker = await BrokerServerFixture.StartAsync(new Dictionary<string, string?> { ["JitBroker:Policy:Path"] = policy.Path });
        using var client = broker.Client();
        var svid = broker.Svid(E2E.Agent("renewer-max"));
        var issued = await client.RequestCredentialAsync(svid, E2E.Tickets("renew-max", ttlSeconds: 30));
        await E2E.RenewAsync(broker, svid, issued.LeaseId, TimeSpan.FromMinutes(14));

        var atMax = Assert.ThrowsAsync<RpcException>(() => E2E.RenewAsync(broker, svid, issued.LeaseId, TimeSpan.FromMinutes(5)));
        Assert.That((atMax!.StatusCode, E2E.Reason(atMax)), Is.EqualTo((StatusCode.FailedPrecondition, "renewal.max_ttl_reached")));
    }

    [Test]
    public async Task A_reload_revokes_leases_the_new_policy_no_longer_grants_and_a_broken_file_keeps_the_old_policy()
    {
        using var policy = new PolicyDirectory().Write("10-tickets.yaml", ShortTickets);
        await using var broker = await BrokerServerFixture.StartAsync(new Dictionary<string, string?>
        {
            ["JitBroker:Policy:Path"] = policy.Path,
            ["JitBroker:Policy:ReloadInterval"] = "00:00:01",
        });
        using var client = broker.Client();
        var keep = await E2E.IssueAsync(broker, client, E2E.Agent("reload-keeper"), "rl-keep", "zendesk");
        var lose = await E2E.IssueAsync(broker, client, E2E.Agent("reload-loser"), "rl-lose", "crm");

        // The new policy no longer allows the crm tool.
        policy.Write("10-tickets.yaml", ShortTickets.Replace("tools: [\"zendesk\", \"crm\"]", "tools: [\"zendesk\"]", StringComparison.Ordinal));

        Assert.That(await Eventually.TrueAsync(async () => !await E2E.IsActiveAsync(broker, client, lose.Credential.Token), TimeSpan.FromSeconds(15)),
            Is.True, "the lease the new policy would not grant is revoked");
        Assert.That(await E2E.IsActiveAsync(broker, client, keep.Credential.Token), Is.True, "a lease still granted survives the reload");
        var denied = Assert.ThrowsAsync<RpcException>(() => E2E.IssueAsync(broker, client, E2E.Agent("reload-loser"), "rl-lose-2", "crm"));
        Assert.That(denied!.StatusCode, Is.EqualTo(StatusCode.PermissionDenied), "new requests see the new policy");

        var audit = Path.Combine(broker.DataDirectory, "audit.jsonl");
        var events = AuditEvents(audit);
        Assert.That(events.Any(e => Type(e) == "policy.reloaded" && !e.TryGetProperty("reason", out _)), Is.True, "the reload is audited");
        Assert.That(await Eventually.TrueAsync(() => Task.FromResult(AuditEvents(audit).Any(e => Type(e) == "lease.revoked" && e.GetProperty("lease_id").GetString() == lose.LeaseId)),
            TimeSpan.FromSeconds(15)), Is.True, "the sweepers revoke what the reload scheduled");

        // A broken file: refused, audited as a failed reload, the policy in force stays.
        policy.Write("10-tickets.yaml", "version: 1\nrules:\n  - id: x\n    effect: maybe\n");
        Assert.That(await Eventually.TrueAsync(() => Task.FromResult(AuditEvents(audit).Any(e =>
            Type(e) == "policy.reloaded" && e.TryGetProperty("reason", out var r) && r.GetString() == "policy.reload_failed")), TimeSpan.FromSeconds(15)),
            Is.True, "the failed reload is audited");
        Assert.That(await E2E.IssueAsync(broker, client, E2E.Agent("reload-keeper"), "rl-keep-2", "zendesk"), Has.Property("LeaseId").StartsWith("lease_"),
            "the last good policy still decides");
        Assert.That(await E2E.IsActiveAsync(broker, client, keep.Credential.Token), Is.True, "a broken file revokes nothing");
        Assert.ThrowsAsync<RpcException>(() => E2E.IssueAsync(broker, client, E2E.Agent("reload-loser"), "rl-lose-3", "crm"),
            "and it is the new policy, not the original, that stays in force");
    }

    [Test]
    public async Task In_flag_mode_a_reload_keeps_the_lease_but_renewal_re_evaluates_and_refuses()
    {
        using var policy = new PolicyDirectory().Write("10-tickets.yaml", ShortTickets);
        await using var broker = await BrokerServerFixture.StartAsync(new Dictionary<string, string?>
        {
            ["JitBroker:Policy:Path"] = policy.Path,
            ["JitBroker:Policy:ReloadInterval"] = "00:00:01",
            ["JitBroker:Policy:RevokeOnReload"] = "false",
        });
        using var client = broker.Client();
        var svid = broker.Svid(E2E.Agent("flagged"));
        var issued = await client.RequestCredentialAsync(svid, E2E.Tickets("flag-1", tool: "crm", ttlSeconds: 30));

        policy.Write("10-tickets.yaml", ShortTickets.Replace("tools: [\"zendesk\", \"crm\"]", "tools: [\"zendesk\"]", StringComparison.Ordinal));
        var audit = Path.Combine(broker.DataDirectory, "audit.jsonl");
        Assert.That(await Eventually.TrueAsync(() => Task.FromResult(AuditEvents(audit).Any(e => Type(e) == "policy.reloaded"
            && e.TryGetProperty("lease_id", out var l) && l.GetString() == issued.LeaseId
            && e.GetProperty("reason").GetString() == "policy.no_longer_granted")), TimeSpan.FromSeconds(15)), Is.True, "the lease is flagged");
        Assert.That(await E2E.IsActiveAsync(broker, client, issued.Credential.Token), Is.True, "flag mode does not revoke");

        var renew = Assert.ThrowsAsync<RpcException>(() => E2E.RenewAsync(broker, svid, issued.LeaseId, TimeSpan.FromSeconds(60)));
        Assert.That((renew!.StatusCode, E2E.Reason(renew)), Is.EqualTo((StatusCode.PermissionDenied, "policy.denied")),
            "renewal asks the policy in force, which no longer grants crm");
    }

    [Test]
    public async Task An_agent_asking_for_more_than_its_rule_gets_only_the_intersection_and_the_rule_ttl()
    {
        using var policy = new PolicyDirectory().Write("10-tickets.yaml", ShortTickets);
        await using var broker = await BrokerServerFixture.StartAsync(new Dictionary<string, string?> { ["JitBroker:Policy:Path"] = policy.Path });
        using var client = broker.Client();
        var request = BrokerClient.NewRequest("widen-1", "tickets.read", BrokerServerFixture.TicketsAudience, ["zendesk", "jira"],
            ["tickets/1", "secrets/1", "tickets/*", "tickets/../secrets"], "widening", TimeSpan.FromMinutes(14));

        var issued = await client.RequestCredentialAsync(broker.Svid(E2E.Agent("greedy")), request);

        Assert.That(issued.Scope.Tools, Is.EqualTo(new[] { "zendesk" }));
        Assert.That(issued.Scope.Resources, Is.EqualTo(new[] { "tickets/1" }), "no foreign resource, no wildcard, no traversal");
        Assert.That(issued.GrantedTtl.ToTimeSpan(), Is.EqualTo(TimeSpan.FromMinutes(2)), "TTL = min(requested, rule max)");
        var onlyForeign = BrokerClient.NewRequest("widen-2", "tickets.read", BrokerServerFixture.TicketsAudience, ["jira"], ["tickets/1"]);
        var ex = Assert.ThrowsAsync<RpcException>(() => client.RequestCredentialAsync(broker.Svid(E2E.Agent("greedy")), onlyForeign));
        Assert.That(ex!.StatusCode, Is.EqualTo(StatusCode.PermissionDenied), "asking only for tools the rule does not allow is a denial");
        var wildcardTool = BrokerClient.NewRequest("widen-3", "tickets.read", BrokerServerFixture.TicketsAudience, ["*"], ["tickets/1"]);
        var invalid = Assert.ThrowsAsync<RpcException>(() => client.RequestCredentialAsync(broker.Svid(E2E.Agent("greedy")), wildcardTool));
        Assert.That(invalid!.StatusCode, Is.EqualTo(StatusCode.InvalidArgument), "a wildcard is not a tool name");
    }

    private static List<JsonElement> AuditEvents(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        var lines = reader.ReadToEnd().Split('\n');
        // The broker may be writing: the last segment is complete only when the file ends in a newline (then it is empty).
        return [.. lines[..^1].Select(l => JsonDocument.Parse(l).RootElement)];
    }

    private static string? Type(JsonElement e) => e.GetProperty("type").GetString();

    private static string Pad(string base64Url)
    {
        var s = base64Url.Replace('-', '+').Replace('_', '/');
        return s + new string('=', (4 - (s.Length % 4)) % 4);
    }
}
