using JitBroker.Core;
using NUnit.Framework;

namespace JitBroker.Leases.Tests;

/// <summary>The contract of the operator queries, delegation, renewal and counts, for every store.</summary>
public abstract partial class LeaseStoreConformanceTests
{
    private async Task<Lease> PutWithIdAsync(string leaseId, TimeSpan expiresIn, string agentId = "spiffe://dev.local/agent/a", string taskId = "task-1", string issuerKind = "fake", string? parent = null)
    {
        var lease = NewLease(expiresIn, agentId, taskId, leaseId) with { IssuerKind = issuerKind, ParentLeaseId = parent };
        await Store.PutAsync(lease);
        return lease;
    }

    private async Task<List<string>> ListAllAsync(LeaseQuery query)
    {
        var ids = new List<string>();
        string? token = null;
        for (var pages = 0; pages < 100; pages++)
        {
            var page = await Store.ListAsync(query with { PageToken = token });
            ids.AddRange(Ids(page.Leases));
            token = page.NextPageToken;
            if (token is null)
            {
                return ids;
            }
        }

        throw new AssertionException("ListAsync never returned a last page.");
    }

    [Test]
    public async Task Agent_facts_and_every_optional_shape_round_trip()
    {
        var facts = new Dictionary<string, string> { ["trust_domain"] = "dev.local", ["k8s.namespace"] = "agents", ["empty"] = "" };
        var lease = NewLease(TimeSpan.FromMinutes(5), leaseId: "lease-facts") with
        {
            AgentFacts = facts,
            BackendHandle = "lease-facts", // the JWT issuer's jti is the lease id
            CredentialFingerprint = "vault-accessor-fp:ABC",
            Scope = new GrantedScope("aud", "write", [], [""]),
            RuleIds = [],
        };

        await Store.PutAsync(lease);
        var stored = await GetAsync("lease-facts");

        Assert.That(stored.AgentFacts, Is.EquivalentTo(facts));
        Assert.That((stored.BackendHandle, stored.CredentialFingerprint), Is.EqualTo(("lease-facts", "vault-accessor-fp:ABC")));
        Assert.That((stored.Scope.Tools, stored.Scope.Resources, stored.RuleIds), Is.EqualTo((Array.Empty<string>(), new[] { "" }, Array.Empty<string>())));
        Assert.That(stored.ParentLeaseId, Is.Null);
    }

    [Test]
    public async Task List_pages_through_every_lease_in_id_order()
    {
        string[] ids = ["lease-05", "lease-01", "lease-04", "lease-02", "lease-03"];
        foreach (var id in ids)
        {
            await PutWithIdAsync(id, TimeSpan.FromMinutes(5));
        }

        var first = await Store.ListAsync(new LeaseQuery { PageSize = 2 });
        var all = await ListAllAsync(new LeaseQuery { PageSize = 2 });
        var whole = await Store.ListAsync(new LeaseQuery { PageSize = 5 });

        Assert.That(Ids(first.Leases), Is.EqualTo(new[] { "lease-01", "lease-02" }));
        Assert.That(first.NextPageToken, Is.Not.Null);
        Assert.That(all, Is.EqualTo(ids.Order(StringComparer.Ordinal)));
        Assert.That((whole.Leases.Count, whole.NextPageToken), Is.EqualTo((5, (string?)null)), "no token on the last page");
    }

    [Test]
    public async Task List_filters_combine_with_and()
    {
        await PutWithIdAsync("lease-a1", TimeSpan.FromMinutes(5), "agent-a", "t1", "jwt");
        await PutWithIdAsync("lease-a2", TimeSpan.FromMinutes(50), "agent-a", "t1", "vault");
        await PutWithIdAsync("lease-a3", TimeSpan.FromMinutes(5), "agent-a", "t2", "jwt");
        await PutWithIdAsync("lease-b1", TimeSpan.FromMinutes(5), "agent-b", "t1", "jwt");
        await Store.MarkRevokedAsync("lease-a3", T0);

        Assert.That(await ListAllAsync(new LeaseQuery { AgentId = "agent-a" }), Is.EqualTo(new[] { "lease-a1", "lease-a2", "lease-a3" }));
        Assert.That(await ListAllAsync(new LeaseQuery { AgentId = "agent-a", TaskId = "t1" }), Is.EqualTo(new[] { "lease-a1", "lease-a2" }));
        Assert.That(await ListAllAsync(new LeaseQuery { TaskId = "t1" }), Is.EqualTo(new[] { "lease-a1", "lease-a2", "lease-b1" }));
        Assert.That(await ListAllAsync(new LeaseQuery { State = LeaseState.Revoked }), Is.EqualTo(new[] { "lease-a3" }));
        Assert.That(await ListAllAsync(new LeaseQuery { IssuerKind = "jwt", State = LeaseState.Active }), Is.EqualTo(new[] { "lease-a1", "lease-b1" }));
        Assert.That(await ListAllAsync(new LeaseQuery { AgentId = "agent-a", ExpiresBefore = T0 + TimeSpan.FromMinutes(5) }), Is.Empty, "strictly before");
        Assert.That(await ListAllAsync(new LeaseQuery { ExpiresBefore = T0 + TimeSpan.FromMinutes(6) }), Is.EqualTo(new[] { "lease-a1", "lease-a3", "lease-b1" }));
        Assert.That(await ListAllAsync(new LeaseQuery { AgentId = "agent-c" }), Is.Empty);
    }

    [Test]
    public async Task List_by_agent_pages_too()
    {
        for (var i = 0; i < 7; i++)
        {
            await PutWithIdAsync($"lease-{i:00}", TimeSpan.FromMinutes(5), "agent-a", $"task-{i % 3}");
        }

        await PutWithIdAsync("lease-99", TimeSpan.FromMinutes(5), "agent-b", "task-0");

        var page = await Store.ListAsync(new LeaseQuery { AgentId = "agent-a", PageSize = 3 });
        var all = await ListAllAsync(new LeaseQuery { AgentId = "agent-a", PageSize = 3 });

        Assert.That(Ids(page.Leases), Is.EqualTo(new[] { "lease-00", "lease-01", "lease-02" }));
        Assert.That(all, Is.EqualTo(Enumerable.Range(0, 7).Select(i => $"lease-{i:00}")));
    }

    [TestCase(0)]
    [TestCase(1001)]
    public void List_refuses_a_page_size_out_of_range(int pageSize) =>
        Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Store.ListAsync(new LeaseQuery { PageSize = pageSize }));

    [Test]
    public async Task Children_are_the_direct_delegations_in_any_state()
    {
        // Delegated ids are placed with their parent, as the broker places them (a sharded store needs it).
        var parent = LeaseIds.New();
        var placed = Enumerable.Range(0, 3).Select(_ => LeaseIds.New(LeaseIds.PlacementOf(parent))).Order(StringComparer.Ordinal).ToArray();
        string child1 = placed[0], child2 = placed[1], grandchild = placed[2];
        await PutWithIdAsync(parent, TimeSpan.FromMinutes(5));
        await PutWithIdAsync(child2, TimeSpan.FromMinutes(5), parent: parent);
        await PutWithIdAsync(child1, TimeSpan.FromMinutes(5), parent: parent);
        await PutWithIdAsync(grandchild, TimeSpan.FromMinutes(5), parent: child1);
        await Store.MarkRevokedAsync(child2, T0);

        var children = await Store.ListChildrenAsync(parent);

        Assert.That(Ids(children), Is.EqualTo(new[] { child1, child2 }));
        Assert.That(children[1].State, Is.EqualTo(LeaseState.Revoked));
        Assert.That(await Store.ListChildrenAsync(grandchild), Is.Empty);
    }

    [Test]
    public async Task Renew_moves_expiry_and_due_time_and_records_the_new_fingerprint()
    {
        var lease = await PutAsync(TimeSpan.FromMinutes(1));
        var newExpiry = T0 + TimeSpan.FromMinutes(10);
        var newFingerprint = "sha256:" + new string('b', 64);

        var renewed = await Store.RenewAsync(lease.LeaseId, newExpiry, newFingerprint);
        var stored = await GetAsync(lease.LeaseId);

        Assert.That(renewed, Is.Not.Null);
        Assert.That((stored.ExpiresAt, stored.DueAt, stored.CredentialFingerprint, stored.State),
            Is.EqualTo((newExpiry, (DateTimeOffset?)newExpiry, newFingerprint, LeaseState.Active)));
        Assert.That((renewed!.ExpiresAt, renewed.CredentialFingerprint), Is.EqualTo((newExpiry, newFingerprint)));
        Assert.That(await Store.NextDueAsync(), Is.EqualTo(newExpiry));
        Assert.That(await Store.ClaimDueAsync(T0 + TimeSpan.FromMinutes(5), 10, ClaimTimeout), Is.Empty, "no longer due at the old expiry");
    }

    [Test]
    public async Task Only_active_leases_can_be_renewed()
    {
        var revoked = await PutAsync(TimeSpan.FromMinutes(1));
        var claimed = await PutAsync(TimeSpan.FromMinutes(1));
        var failed = await PutAsync(TimeSpan.FromMinutes(1));
        await Store.MarkRevokedAsync(revoked.LeaseId, T0);
        await Store.TryClaimAsync(claimed.LeaseId, T0, ClaimTimeout);
        await Store.MarkRevokeFailedAsync(failed.LeaseId, "down", T0 + TimeSpan.FromMinutes(2));
        var later = T0 + TimeSpan.FromHours(1);

        Assert.That(await Store.RenewAsync(revoked.LeaseId, later, "sha256:x"), Is.Null);
        Assert.That(await Store.RenewAsync(claimed.LeaseId, later, "sha256:x"), Is.Null);
        Assert.That(await Store.RenewAsync(failed.LeaseId, later, "sha256:x"), Is.Null);
        Assert.That(await Store.RenewAsync("lease-never-stored", later, "sha256:x"), Is.Null);
        Assert.That((await GetAsync(revoked.LeaseId)).ExpiresAt, Is.EqualTo(revoked.ExpiresAt));
    }

    [Test]
    public async Task Counts_follow_every_state_change()
    {
        static Dictionary<LeaseState, long> Expect(long active, long revoking, long revoked, long failed) => new()
        {
            [LeaseState.Active] = active, [LeaseState.Revoking] = revoking, [LeaseState.Revoked] = revoked, [LeaseState.RevokeFailed] = failed,
        };

        Assert.That(await Store.CountByStateAsync(), Is.EquivalentTo(Expect(0, 0, 0, 0)));
        var leases = new List<Lease>();
        for (var i = 0; i < 5; i++)
        {
            leases.Add(await PutAsync(TimeSpan.FromSeconds(i + 1)));
        }

        await Store.ClaimDueAsync(T0 + TimeSpan.FromSeconds(2), 10, ClaimTimeout); // leases 0 and 1
        await Store.MarkRevokedAsync(leases[0].LeaseId, T0 + TimeSpan.FromSeconds(2));
        await Store.MarkRevokeFailedAsync(leases[1].LeaseId, "down", T0 + TimeSpan.FromSeconds(10));
        await Store.MarkRevokeFailedAsync(leases[2].LeaseId, "down", T0 + TimeSpan.FromSeconds(10));
        await Store.TryClaimAsync(leases[3].LeaseId, T0, ClaimTimeout);

        Assert.That(await Store.CountByStateAsync(), Is.EquivalentTo(Expect(1, 1, 1, 2)));
        Assert.That(Ids(await Store.ListByStateAsync(LeaseState.Revoking, 10)), Is.EqualTo(new[] { leases[3].LeaseId }));
        Assert.That(await Store.ListByStateAsync(LeaseState.RevokeFailed, 0), Is.Empty);
    }
}
