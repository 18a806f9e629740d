using JitBroker.Core;
using JitBroker.Core.Handlers;
using JitBroker.Leases.Redis;
using JitBroker.Redis;
using JitBroker.Redis.Tests.Harness;
using NUnit.Framework;

namespace JitBroker.Core.Tests;

/// <summary>Issue 8's cascade proof at depth 3 with the production lease store: a real redis-server on loopback.</summary>
[NonParallelizable]
public sealed class DelegationOnRedisTests
{
    private RedisServerProcess _server = null!;
    private RedisConnection _redis = null!;

    [OneTimeSetUp]
    public async Task StartRedis()
    {
        _server = await RedisServerProcess.StartServerAsync();
        _redis = new RedisConnection(new RedisOptions { Endpoint = _server.Endpoint });
    }

    [OneTimeTearDown]
    public async Task StopRedis()
    {
        await _redis.DisposeAsync();
        await _server.DisposeAsync();
    }

    private PipelineFixture Fixture(bool ledgerMarkIssuer = false)
    {
        var f = new PipelineFixture(new RedisLeaseStore(_redis, $"cascade-{Guid.NewGuid():N}:"), ledgerMarkIssuer);
        f.DelegationPolicy.Rules.Add(("spiffe://example.org/**", "spiffe://example.org/workers/*", 3));
        return f;
    }

    private static async Task<Lease> Hop(PipelineFixture f, string from, Lease parent, string to)
    {
        var (offer, _) = await f.OfferDelegation.HandleAsync(f.As(from), parent.LeaseId, to, ["zendesk"], ["tickets/1"], null);
        return (await f.DelegateCredential.HandleAsync(f.As(to), offer)).Lease;
    }

    [TestCase(false, TestName = "Ending_the_root_task_revokes_three_delegated_generations_in_redis")]
    [TestCase(true, TestName = "Ending_the_root_task_revokes_three_delegated_generations_in_the_redis_claim_script_when_the_issuers_revocation_is_the_mark")]
    public async Task Ending_the_root_task_revokes_three_delegated_generations_in_redis(bool ledgerMarkIssuer)
    {
        var f = Fixture(ledgerMarkIssuer);
        var root = (await f.IssueAsync(PipelineFixture.Request("t1", tools: "zendesk"))).Lease;
        var c1 = await Hop(f, PipelineFixture.Agent, root, "spiffe://example.org/workers/w1");
        var c2 = await Hop(f, "spiffe://example.org/workers/w1", c1, "spiffe://example.org/workers/w2");
        var c3 = await Hop(f, "spiffe://example.org/workers/w2", c2, "spiffe://example.org/workers/w3");
        Assert.That((await f.Leases.ListChildrenAsync(c2.LeaseId)).Single().LeaseId, Is.EqualTo(c3.LeaseId), "the child index lives in Redis");

        var ended = await f.EndTask.HandleAsync(f.As(PipelineFixture.Agent), "t1");

        Assert.That(ended.Leases.Select(l => l.Outcome), Has.All.EqualTo(LeaseOutcomeKind.Revoked));
        foreach (var lease in new[] { root, c1, c2, c3 })
        {
            Assert.That((await f.Leases.GetAsync(lease.LeaseId))!.State, Is.EqualTo(LeaseState.Revoked), lease.LeaseId);
        }

        Assert.That(f.Issuer.Revoked, ledgerMarkIssuer ? Is.Empty : Has.Count.EqualTo(4), "the issuer is asked only when its revocation is not the ledger's mark");
        Assert.That(f.Audit.OfType(AuditEventTypes.LeaseRevoked).Select(e => e.LeaseId), Is.EquivalentTo(new[] { root, c1, c2, c3 }.Select(l => l.LeaseId)),
            "one lease.revoked per lease");
    }

    [Test]
    public async Task Revoking_a_middle_generation_takes_its_descendants_and_spares_its_ancestors()
    {
        var f = Fixture();
        var admin = await f.AdminAuthorization.AuthorizeAsync(f.As(PipelineFixture.Human));
        var root = (await f.IssueAsync(PipelineFixture.Request("t1", tools: "zendesk"))).Lease;
        var c1 = await Hop(f, PipelineFixture.Agent, root, "spiffe://example.org/workers/w1");
        var c2 = await Hop(f, "spiffe://example.org/workers/w1", c1, "spiffe://example.org/workers/w2");
        var c3 = await Hop(f, "spiffe://example.org/workers/w2", c2, "spiffe://example.org/workers/w3");

        var scheduled = await f.RevokeLeases.RevokeAsync(admin, new RevokeSelector.Lease(c2.LeaseId), confirmed: false, "worker w2 misbehaved");
        Assert.That(scheduled.Scheduled, Is.EqualTo(2), "the lease and its child, in one script");
        Assert.That((await f.Leases.GetAsync(c3.LeaseId))!.State, Is.EqualTo(LeaseState.Revoking));
        Assert.That((await f.RevokeLeases.GetProgressAsync(scheduled.BatchId)).Revoked, Is.Zero);
        Assert.That(await f.SweepAsync(), Is.EqualTo(2));

        Assert.That(await f.RevokeLeases.GetProgressAsync(scheduled.BatchId), Is.EqualTo(new RevocationProgress(scheduled.BatchId, 2, 2, 0)));
        Assert.That((await f.Leases.GetAsync(c3.LeaseId))!.State, Is.EqualTo(LeaseState.Revoked));
        Assert.That((await f.Leases.GetAsync(c2.LeaseId))!.State, Is.EqualTo(LeaseState.Revoked));
        Assert.That((await f.Leases.GetAsync(c1.LeaseId))!.State, Is.EqualTo(LeaseState.Active));
        Assert.That((await f.Leases.GetAsync(root.LeaseId))!.State, Is.EqualTo(LeaseState.Active));
    }
}
