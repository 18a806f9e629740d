using JitBroker.Core;
using JitBroker.Testing;
using NUnit.Framework;

namespace JitBroker.Leases.Tests;

/// <summary>The contract of <see cref="ILeaseQueries"/> (operators' listing and counts), for every store.</summary>
public abstract class LeaseQueriesConformanceTests : LeaseStoreSuite
{
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
        await Store.MarkOneRevokedAsync("lease-a3", T0);

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
    public async Task List_by_state_finds_the_leases_in_each_state_and_pages_them()
    {
        var active = new[] { await PutAsync(TimeSpan.FromMinutes(5)), await PutAsync(TimeSpan.FromMinutes(5)) };
        var failed = new List<Lease>();
        for (var i = 0; i < 3; i++)
        {
            var lease = await PutAsync(TimeSpan.FromSeconds(1));
            await Store.MarkRevokeFailedAsync(lease.LeaseId, "down", T0 + TimeSpan.FromMinutes(1));
            failed.Add(lease);
        }

        var revoked = await PutAsync(TimeSpan.FromSeconds(1));
        await Store.MarkOneRevokedAsync(revoked.LeaseId, T0);
        var revoking = await PutAsync(TimeSpan.FromMinutes(5));
        await Store.TryClaimAsync(revoking.LeaseId, T0, ClaimTimeout);

        Assert.That(await ListAllAsync(new LeaseQuery { State = LeaseState.Active }), Is.EquivalentTo(Ids(active)));
        Assert.That(await ListAllAsync(new LeaseQuery { State = LeaseState.RevokeFailed }), Is.EquivalentTo(Ids(failed)));
        Assert.That(await ListAllAsync(new LeaseQuery { State = LeaseState.Revoked }), Is.EqualTo(new[] { revoked.LeaseId }));
        Assert.That(await ListAllAsync(new LeaseQuery { State = LeaseState.Revoking }), Is.EqualTo(new[] { revoking.LeaseId }));
        var limited = await Store.ListAsync(new LeaseQuery { State = LeaseState.RevokeFailed, PageSize = 2 });
        Assert.That(Ids(limited.Leases), Is.EqualTo(Ids(failed).Order(StringComparer.Ordinal).Take(2)));
        Assert.That(limited.NextPageToken, Is.Not.Null);
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
        await Store.MarkOneRevokedAsync(leases[0].LeaseId, T0 + TimeSpan.FromSeconds(2));
        await Store.MarkRevokeFailedAsync(leases[1].LeaseId, "down", T0 + TimeSpan.FromSeconds(10));
        await Store.MarkRevokeFailedAsync(leases[2].LeaseId, "down", T0 + TimeSpan.FromSeconds(10));
        await Store.TryClaimAsync(leases[3].LeaseId, T0, ClaimTimeout);

        Assert.That(await Store.CountByStateAsync(), Is.EquivalentTo(Expect(1, 1, 1, 2)));
        Assert.That(await ListAllAsync(new LeaseQuery { State = LeaseState.Revoking }), Is.EqualTo(new[] { leases[3].LeaseId }));
    }
}
