using JitBroker.Core;
using JitBroker.Core.Handlers;
using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;

namespace JitBroker.Core.Tests;

/// <summary>
/// Issue 13: a block makes every credential of the agent — and everything delegated from it — unusable the moment
/// it is recorded, whether or not any revocation has run yet; the consistency sweep finishes what a dead replica left.
/// </summary>
public sealed class KillSwitchContainmentTests
{
    private const string Planner = PipelineFixture.Agent;
    private const string W1 = "spiffe://example.org/workers/w1";
    private const string W2 = "spiffe://example.org/workers/w2";

    private static async Task<(PipelineFixture F, CredentialGrantResult Root, CredentialGrantResult C1, CredentialGrantResult C2)> ChainAsync()
    {
        var f = new PipelineFixture();
        f.DelegationPolicy.Rules.Add(("spiffe://example.org/**", "spiffe://example.org/workers/*", 3));
        var root = await f.IssueAsync(PipelineFixture.Request("t1", ttl: TimeSpan.FromMinutes(10)));
        var c1 = await HopAsync(f, Planner, root.Lease, W1);
        var c2 = await HopAsync(f, W1, c1.Lease, W2);
        return (f, root, c1, c2);
    }

    private static async Task<CredentialGrantResult> HopAsync(PipelineFixture f, string from, Lease parent, string to)
    {
        var (offer, _) = await f.OfferDelegation.HandleAsync(f.As(from), parent.LeaseId, to, ["zendesk"], ["tickets/1"], null);
        return await f.DelegateCredential.HandleAsync(f.As(to), offer);
    }

    private static async Task<bool> ActiveAsync(PipelineFixture f, CredentialGrantResult g) =>
        (await f.Introspection.HandleAsync(f.As(PipelineFixture.ResourceServer), g.Credential.Secret)).Active;

    [Test]
    public async Task A_recorded_block_makes_the_agents_and_its_delegates_credentials_unusable_before_anything_is_revoked()
    {
        var (f, root, c1, c2) = await ChainAsync();
        Assert.That(await ActiveAsync(f, c2), Is.True, "introspection answers active for a live delegated credential");

        // Only the block is recorded — as if the replica died before scheduling anything.
        await f.KillSwitch.BlockAsync(new AgentBlock(Planner, "incident", "oncall", f.Time.GetUtcNow()));

        foreach (var held in new[] { root, c1, c2 })
        {
            Assert.That((await f.Leases.GetAsync(held.Lease.LeaseId))!.State, Is.EqualTo(LeaseState.Active), "nothing revoked yet");
            Assert.That(await ActiveAsync(f, held), Is.False, held.Lease.AgentId);
        }

        var renew = Assert.ThrowsAsync<BrokerException>(() => f.RenewCredential.HandleAsync(f.As(W2), c2.Lease.LeaseId, TimeSpan.FromMinutes(5)));
        Assert.That(renew!.Reason, Is.EqualTo(Reasons.LeaseNotActive), "the worker's own lease, under a blocked planner");
        var offer = Assert.ThrowsAsync<BrokerException>(() => f.OfferDelegation.HandleAsync(f.As(W2), c2.Lease.LeaseId, "spiffe://example.org/workers/w3", ["zendesk"], ["tickets/1"], null));
        Assert.That(offer!.Reason, Is.EqualTo(Reasons.LeaseNotActive));
    }

    [Test]
    public async Task An_offer_made_before_the_block_cannot_be_redeemed_after_it()
    {
        var (f, _, c1, _) = await ChainAsync();
        var (offer, _) = await f.OfferDelegation.HandleAsync(f.As(W1), c1.Lease.LeaseId, "spiffe://example.org/workers/w3", ["zendesk"], ["tickets/1"], null);

        await f.KillSwitch.BlockAsync(new AgentBlock(Planner, "incident", "oncall", f.Time.GetUtcNow()));

        var redeem = Assert.ThrowsAsync<BrokerException>(() => f.DelegateCredential.HandleAsync(f.As("spiffe://example.org/workers/w3"), offer));
        Assert.That(redeem!.Reason, Is.EqualTo(Reasons.LeaseNotActive));
    }

    [Test]
    public async Task An_expired_block_refuses_nothing_and_lists_as_gone()
    {
        var f = new PipelineFixture();
        var admin = await f.AdminAuthorization.AuthorizeAsync(f.As(PipelineFixture.Human));
        var (block, _) = await f.KillSwitchAdmin.BlockAsync(admin, Planner, "cool-off", TimeSpan.FromMinutes(10));
        Assert.That(block.ExpiresAt, Is.EqualTo(block.BlockedAt + TimeSpan.FromMinutes(10)));
        Assert.That(Assert.ThrowsAsync<BrokerException>(() => f.IssueAsync())!.Reason, Is.EqualTo(Reasons.AgentBlocked));
        Assert.That((await f.KillSwitchAdmin.ListBlocksAsync()).Single().ExpiresAt, Is.EqualTo(block.ExpiresAt));

        f.Time.Advance(TimeSpan.FromMinutes(10));

        Assert.That(await f.IssueAsync(), Is.Not.Null);
        Assert.That(await f.KillSwitchAdmin.ListBlocksAsync(), Is.Empty);
    }

    [Test]
    public async Task Blocks_and_unblocks_need_a_reason_and_a_positive_duration()
    {
        var f = new PipelineFixture();
        var admin = await f.AdminAuthorization.AuthorizeAsync(f.As(PipelineFixture.Human));
        Assert.That(Assert.ThrowsAsync<BrokerException>(() => f.KillSwitchAdmin.BlockAsync(admin, Planner, " "))!.Failure, Is.EqualTo(BrokerFailure.InvalidArgument));
        Assert.That(Assert.ThrowsAsync<BrokerException>(() => f.KillSwitchAdmin.BlockAsync(admin, Planner, "x", TimeSpan.Zero))!.Failure, Is.EqualTo(BrokerFailure.InvalidArgument));
        Assert.That(Assert.ThrowsAsync<BrokerException>(() => f.KillSwitchAdmin.UnblockAsync(admin, Planner, ""))!.Failure, Is.EqualTo(BrokerFailure.InvalidArgument));
        Assert.That(Assert.ThrowsAsync<BrokerException>(() => f.RevokeLeases.GetProgressAsync("rvb_nothex!"))!.Failure, Is.EqualTo(BrokerFailure.InvalidArgument));
        Assert.That(Assert.ThrowsAsync<BrokerException>(() => f.RevokeLeases.GetProgressAsync(RevocationBatchIds.New()))!.Reason, Is.EqualTo(Reasons.RevocationBatchNotFound));
    }

    [Test]
    public async Task The_consistency_sweep_schedules_what_a_replica_that_died_after_recording_the_block_left_behind()
    {
        var (f, root, c1, c2) = await ChainAsync();
        var bystander = await HopAsync(f, Planner, (await f.IssueAsync(PipelineFixture.Request("t2"))).Lease, W1);
        await f.KillSwitch.BlockAsync(new AgentBlock(W1, "incident", "oncall", f.Time.GetUtcNow()));
        var consistency = new RevocationConsistency(f.Schedule, f.KillSwitch, f.Time, NullLogger<RevocationConsistency>.Instance);

        Assert.That(await consistency.RunOnceAsync(), Is.EqualTo(3), "both of W1's leases and the lease delegated from one of them");
        await f.SweepAsync();

        Assert.That((await f.Leases.GetAsync(root.Lease.LeaseId))!.State, Is.EqualTo(LeaseState.Active), "the planner is not blocked");
        foreach (var id in new[] { c1, c2, bystander }.Select(g => g.Lease.LeaseId))
        {
            Assert.That((await f.Leases.GetAsync(id))!.State, Is.EqualTo(LeaseState.Revoked));
        }

        Assert.That(f.Audit.OfType(AuditEventTypes.LeaseRevoked).Select(e => e.LeaseId), Is.EquivalentTo(new[] { c1, c2, bystander }.Select(g => g.Lease.LeaseId)));
        Assert.That(await consistency.RunOnceAsync(), Is.Zero, "nothing left");
    }
}
