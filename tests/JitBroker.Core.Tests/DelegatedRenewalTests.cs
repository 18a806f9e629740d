using JitBroker.Core;
using NUnit.Framework;

namespace JitBroker.Core.Tests;

/// <summary>Issue 17 item 2: renewing a delegated lease never outlives or out-scopes the delegation that made it.</summary>
public sealed class DelegatedRenewalTests
{
    private const string Planner = PipelineFixture.Agent;
    private const string W1 = "spiffe://example.org/workers/w1";
    private const string W2 = "spiffe://example.org/workers/w2";

    private static PipelineFixture WithDelegation()
    {
        var f = new PipelineFixture();
        f.DelegationPolicy.Rules.Add(("spiffe://example.org/**", "spiffe://example.org/workers/*", 3));
        return f;
    }

    private static Task<CredentialGrantResult> Root(PipelineFixture f) =>
        f.IssueAsync(PipelineFixture.Request("t1", ttl: TimeSpan.FromMinutes(10), tools: ["zendesk", "crm"]));

    private static async Task<CredentialGrantResult> Hop(PipelineFixture f, string from, Lease parent, string to, TimeSpan ttl)
    {
        var (offer, _) = await f.OfferDelegation.HandleAsync(f.As(from), parent.LeaseId, to, ["zendesk"], ["tickets/1"], ttl);
        return await f.DelegateCredential.HandleAsync(f.As(to), offer);
    }

    [Test]
    public async Task A_delegated_lease_is_renewed_at_most_to_its_parents_expiry()
    {
        var f = WithDelegation();
        var root = await Root(f);
        f.Time.Advance(TimeSpan.FromMinutes(3));
        var child = await Hop(f, Planner, root.Lease, W1, TimeSpan.FromMinutes(2));
        f.Time.Advance(TimeSpan.FromMinutes(1));

        // The worker's own rule would allow 10 minutes from the child's issue: 3 minutes past the parent.
        var renewed = await f.RenewCredential.HandleAsync(f.As(W1), child.Lease.LeaseId, TimeSpan.FromMinutes(30));

        Assert.That(renewed.Lease.ExpiresAt, Is.GreaterThan(child.Lease.ExpiresAt), "it was renewed");
        Assert.That(renewed.Lease.ExpiresAt, Is.LessThanOrEqualTo(root.Lease.ExpiresAt), "but not past its parent");
    }

    [Test]
    public async Task A_delegated_lease_follows_its_parent_when_the_parent_is_renewed()
    {
        var f = WithDelegation();
        var root = await f.IssueAsync(PipelineFixture.Request("t1", ttl: TimeSpan.FromMinutes(2), tools: ["zendesk"]));
        var child = await Hop(f, Planner, root.Lease, W1, TimeSpan.FromMinutes(2));
        f.Time.Advance(TimeSpan.FromMinutes(1));

        var atParent = Assert.ThrowsAsync<BrokerException>(() => f.RenewCredential.HandleAsync(f.As(W1), child.Lease.LeaseId, TimeSpan.FromMinutes(5)));
        Assert.That(atParent!.Reason, Is.EqualTo(Reasons.RenewalMaxTtlReached), "the child already runs to its parent's expiry");

        var parentRenewed = await f.RenewCredential.HandleAsync(f.As(Planner), root.Lease.LeaseId, TimeSpan.FromMinutes(5));
        var renewed = await f.RenewCredential.HandleAsync(f.As(W1), child.Lease.LeaseId, TimeSpan.FromMinutes(30));

        Assert.That(renewed.Lease.ExpiresAt, Is.EqualTo(parentRenewed.Lease.ExpiresAt), "the parent's live expiry is the cap");
    }

    [Test]
    public async Task A_delegated_lease_is_renewed_under_the_delegation_not_its_holders_own_rules()
    {
        var f = WithDelegation();
        var root = await Root(f);
        var child = await Hop(f, Planner, root.Lease, W1, TimeSpan.FromMinutes(2));
        // Credential rules allow the planner only: the worker has no rule of its own, the delegation is its grant.
        f.Decide = (agent, r) => agent.Id == Planner ? PipelineFixture.Allow(r, TimeSpan.FromMinutes(10)) : PolicyDecision.Deny("workers get nothing directly");
        f.Time.Advance(TimeSpan.FromMinutes(1));

        var renewed = await f.RenewCredential.HandleAsync(f.As(W1), child.Lease.LeaseId, TimeSpan.FromMinutes(5));

        Assert.That(renewed.Lease.ExpiresAt, Is.EqualTo(f.Time.GetUtcNow() + TimeSpan.FromMinutes(5)));
    }

    [Test]
    public async Task Withdrawing_the_delegation_rule_refuses_renewal_even_where_the_holders_own_rules_allow()
    {
        var f = WithDelegation();
        var root = await Root(f);
        var child = await Hop(f, Planner, root.Lease, W1, TimeSpan.FromMinutes(2));
        f.DelegationPolicy.Rules.Clear();
        var minted = f.Issuer.Secrets.Count;

        var ex = Assert.ThrowsAsync<BrokerException>(() => f.RenewCredential.HandleAsync(f.As(W1), child.Lease.LeaseId, TimeSpan.FromMinutes(5)));

        Assert.That(ex!.Failure, Is.EqualTo(BrokerFailure.PermissionDenied));
        Assert.That(ex.Reason, Is.EqualTo(Reasons.Delegation.Denied));
        Assert.That(f.Issuer.Secrets, Has.Count.EqualTo(minted), "nothing was minted");
    }

    [Test]
    public async Task A_lowered_depth_limit_refuses_renewal_of_a_deeper_lease()
    {
        var f = WithDelegation();
        var root = await Root(f);
        var c1 = await Hop(f, Planner, root.Lease, W1, TimeSpan.FromMinutes(5));
        var c2 = await Hop(f, W1, c1.Lease, W2, TimeSpan.FromMinutes(2));
        f.DelegationPolicy.Rules[0] = (f.DelegationPolicy.Rules[0].From, f.DelegationPolicy.Rules[0].To, 1);

        var ex = Assert.ThrowsAsync<BrokerException>(() => f.RenewCredential.HandleAsync(f.As(W2), c2.Lease.LeaseId, TimeSpan.FromMinutes(3)));

        Assert.That(ex!.Reason, Is.EqualTo(Reasons.Delegation.TooDeep));
    }

    [Test]
    public async Task The_renewed_credential_keeps_the_subject_and_the_actor_chain()
    {
        var f = WithDelegation();
        var root = await Root(f);
        var c1 = await Hop(f, Planner, root.Lease, W1, TimeSpan.FromMinutes(5));
        var c2 = await Hop(f, W1, c1.Lease, W2, TimeSpan.FromMinutes(2));
        f.Time.Advance(TimeSpan.FromMinutes(1));

        await f.RenewCredential.HandleAsync(f.As(W2), c2.Lease.LeaseId, TimeSpan.FromMinutes(3));

        var chain = f.Issuer.Chains[^1];
        Assert.That(chain, Is.Not.Null, "the replacement credential is minted with the chain");
        Assert.Multiple(() =>
        {
            Assert.That(chain!.Subject, Is.EqualTo(Planner));
            Assert.That(chain.Actors, Is.EqualTo(new[] { W2, W1 }));
            Assert.That(chain, Is.EqualTo(c2.Delegation).Using<DelegationChain>((a, b) => a.Subject == b.Subject && a.Actors.SequenceEqual(b.Actors)),
                "the same chain the credential was issued with");
        });
    }

    [Test]
    public async Task A_revoked_parent_makes_renewal_of_its_child_fail()
    {
        var f = WithDelegation();
        var root = await Root(f);
        var child = await Hop(f, Planner, root.Lease, W1, TimeSpan.FromMinutes(2));
        var admin = await f.AdminAuthorization.AuthorizeAsync(f.As(PipelineFixture.Human));
        await f.RevokeLeases.RevokeAsync(admin, new RevokeSelector.Lease(root.Lease.LeaseId), confirmed: false, "compromised planner");
        await f.SweepAsync();
        var minted = f.Issuer.Secrets.Count;

        var ex = Assert.ThrowsAsync<BrokerException>(() => f.RenewCredential.HandleAsync(f.As(W1), child.Lease.LeaseId, TimeSpan.FromMinutes(1)));

        Assert.That(ex!.Failure, Is.EqualTo(BrokerFailure.FailedPrecondition));
        Assert.That(f.Issuer.Secrets, Has.Count.EqualTo(minted), "nothing was minted");
    }
}
