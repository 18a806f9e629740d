using JitBroker.Core;
using JitBroker.Core.Handlers;
using Moq;
using NUnit.Framework;

namespace JitBroker.Core.Tests;

/// <summary>
/// Issue 16 item 1: every credential that leaves the broker — requested, renewed, delegated — goes through one commit
/// step, and a credential the audit record does not show, or one minted for an agent blocked meanwhile, is dead.
/// </summary>
public sealed class CredentialCommitTests
{
    private const string Worker = "spiffe://example.org/workers/w1";

    private static async Task<bool> ActiveAsync(PipelineFixture f, string token) =>
        (await f.Introspection.HandleAsync(f.As(PipelineFixture.ResourceServer), token)).Active;

    [Test]
    public async Task A_renewed_token_introspects_active_and_the_token_it_replaced_inactive()
    {
        var f = new PipelineFixture();
        var granted = await f.IssueAsync(PipelineFixture.Request(ttl: TimeSpan.FromMinutes(2)));
        f.Time.Advance(TimeSpan.FromMinutes(1));

        var renewed = await f.RenewCredential.HandleAsync(f.Token(), granted.Lease.LeaseId, TimeSpan.FromMinutes(5));

        Assert.That(await ActiveAsync(f, renewed.NewSecret!), Is.True, "introspection recognises a renewed token (so 'inactive' below means something)");
        Assert.That(await ActiveAsync(f, granted.Credential.Secret), Is.False);
        Assert.That(f.Audit.OfType(AuditEventTypes.CredentialRenewed).Single().CredentialFingerprint, Is.EqualTo(Fingerprints.Of(renewed.NewSecret!)));
    }

    [Test]
    public async Task A_renewal_whose_audit_record_cannot_be_written_is_refused_and_the_renewed_token_is_dead()
    {
        var f = new PipelineFixture();
        var granted = await f.IssueAsync(PipelineFixture.Request(ttl: TimeSpan.FromMinutes(2)));
        f.Time.Advance(TimeSpan.FromMinutes(1));
        f.Audit.Fail = true;

        var ex = Assert.ThrowsAsync<BrokerException>(() => f.RenewCredential.HandleAsync(f.Token(), granted.Lease.LeaseId, TimeSpan.FromMinutes(5)));
        f.Audit.Fail = false;

        Assert.That(ex!.Failure, Is.EqualTo(BrokerFailure.Unavailable));
        Assert.That(ex.Reason, Is.EqualTo(Reasons.Audit.Unavailable));
        var renewedToken = f.Issuer.Secrets[^1];
        Assert.That(renewedToken, Does.StartWith("secret-renewed-"), "the issuer did mint a replacement");
        Assert.That(await ActiveAsync(f, renewedToken), Is.False, "the renewed token is dead");
        Assert.That(await ActiveAsync(f, granted.Credential.Secret), Is.False, "and so is the one it was to replace");
        Assert.That((await f.Leases.GetAsync(granted.Lease.LeaseId))!.State, Is.EqualTo(LeaseState.Revoked));
        Assert.That(f.Issuer.Revoked, Is.EqualTo(new[] { granted.Lease.LeaseId }), "revoked at its issuer");
        Assert.That(f.Audit.OfType(AuditEventTypes.CredentialRenewed), Is.Empty);
    }

    [Test]
    public async Task A_request_whose_audit_record_cannot_be_written_is_refused_and_the_minted_token_is_dead()
    {
        var f = new PipelineFixture();
        f.Audit.Fail = true;

        var ex = Assert.ThrowsAsync<BrokerException>(() => f.RequestCredential.HandleAsync(f.Token(), PipelineFixture.Request()).AsTask());
        f.Audit.Fail = false;

        Assert.That(ex!.Reason, Is.EqualTo(Reasons.Audit.Unavailable));
        var minted = f.Issuer.Secrets.Single();
        Assert.That(await ActiveAsync(f, minted), Is.False);
        Assert.That(f.Issuer.Revoked, Has.Count.EqualTo(1));
        Assert.That((await f.Leases.CountByStateAsync())[LeaseState.Revoked], Is.EqualTo(1));
    }

    [Test]
    public async Task A_delegation_whose_audit_record_cannot_be_written_is_refused_and_the_child_token_is_dead()
    {
        var f = new PipelineFixture();
        f.DelegationPolicy.Rules.Add(("spiffe://example.org/**", "spiffe://example.org/workers/*", 3));
        var root = await f.IssueAsync();
        var (offer, _) = await f.OfferDelegation.HandleAsync(f.As(PipelineFixture.Agent), root.Lease.LeaseId, Worker, ["zendesk"], ["tickets/1"], null);
        f.Audit.Fail = true;

        var ex = Assert.ThrowsAsync<BrokerException>(() => f.DelegateCredential.HandleAsync(f.As(Worker), offer));
        f.Audit.Fail = false;

        Assert.That(ex!.Reason, Is.EqualTo(Reasons.Audit.Unavailable));
        var childToken = f.Issuer.Secrets[^1];
        var childLeaseId = childToken[(childToken.IndexOf('.', StringComparison.Ordinal) + 1)..];
        Assert.That(childLeaseId, Is.Not.EqualTo(root.Lease.LeaseId));
        Assert.That((await f.Leases.GetAsync(childLeaseId))!.State, Is.EqualTo(LeaseState.Revoked));
        Assert.That(await ActiveAsync(f, childToken), Is.False, "the child token is dead");
        Assert.That(await ActiveAsync(f, root.Credential.Secret), Is.True, "the planner's own credential is untouched");
        Assert.That(f.Audit.OfType(AuditEventTypes.CredentialDelegated).Where(e => e.Decision == "allow"), Is.Empty);
    }

    [Test]
    public async Task A_block_recorded_while_a_renewal_is_minting_refuses_it_and_revokes_the_lease()
    {
        var f = new PipelineFixture();
        var granted = await f.IssueAsync(PipelineFixture.Request(ttl: TimeSpan.FromMinutes(2)));
        f.Time.Advance(TimeSpan.FromMinutes(1));
        f.Issuer.WhileMinting = () => f.KillSwitch.BlockAsync(new AgentBlock(PipelineFixture.Agent, "incident", "oncall", f.Time.GetUtcNow())).AsTask();

        var ex = Assert.ThrowsAsync<BrokerException>(() => f.RenewCredential.HandleAsync(f.Token(), granted.Lease.LeaseId, TimeSpan.FromMinutes(5)));

        Assert.That(ex!.Reason, Is.EqualTo(Reasons.AgentBlocked));
        Assert.That((await f.Leases.GetAsync(granted.Lease.LeaseId))!.State, Is.EqualTo(LeaseState.Revoked));
        Assert.That(f.Audit.OfType(AuditEventTypes.CredentialRenewed), Is.Empty);
    }

    [Test]
    public async Task A_block_recorded_while_a_request_is_minting_refuses_it_and_revokes_the_lease()
    {
        var f = new PipelineFixture();
        f.Issuer.WhileMinting = () => f.KillSwitch.BlockAsync(new AgentBlock(PipelineFixture.Agent, "incident", "oncall", f.Time.GetUtcNow())).AsTask();

        var ex = Assert.ThrowsAsync<BrokerException>(() => f.RequestCredential.HandleAsync(f.Token(), PipelineFixture.Request()).AsTask());

        Assert.That(ex!.Reason, Is.EqualTo(Reasons.AgentBlocked));
        Assert.That((await f.Leases.CountByStateAsync())[LeaseState.Revoked], Is.EqualTo(1));
        Assert.That(f.Issuer.Revoked, Has.Count.EqualTo(1));
        Assert.That(f.Audit.OfType(AuditEventTypes.CredentialIssued), Is.Empty);
    }

    [Test]
    public void A_renewal_the_ledger_cannot_record_is_refused_as_unavailable_and_the_lease_is_revoked()
    {
        var f = new BrokerFixture();
        var lease = new Lease
        {
            LeaseId = "lease_r", TaskId = "task-1", AgentId = BrokerFixture.AgentId, IssuerKind = "jwt", BackendHandle = "lease_r",
            Scope = new GrantedScope("aud", "act", [], []), IssuedAt = f.Time.GetUtcNow(), ExpiresAt = f.Time.GetUtcNow().AddMinutes(5),
            CredentialFingerprint = Fingerprints.Of("old-token"),
        };
        f.Leases.Setup(l => l.RenewAsync("lease_r", It.IsAny<DateTimeOffset>(), Fingerprints.Of("new-token"), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new BrokerException(BrokerFailure.Unavailable, Reasons.LeaseStoreUnavailable, "redis down"));
        f.Leases.Setup(l => l.TryClaimAsync("lease_r", It.IsAny<DateTimeOffset>(), It.IsAny<TimeSpan>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync(lease with { State = LeaseState.Revoking });
        f.Issuer.Setup(i => i.RevokeAsync(It.Is<Lease>(l => l.LeaseId == "lease_r"), It.IsAny<CancellationToken>())).ReturnsAsync(RevocationResult.Revoked);
        f.Leases.Setup(l => l.MarkRevokedManyAsync(It.IsAny<IReadOnlyList<string>>(), It.IsAny<DateTimeOffset>(), It.IsAny<string?>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync([true]);

        var ex = Assert.ThrowsAsync<BrokerException>(() => f.Commit().CommitRenewalAsync(BrokerFixture.Identity(BrokerFixture.AgentId), lease,
            new RenewedCredential(lease.ExpiresAt.AddMinutes(5), "new-token"), ["rule-1"]));

        Assert.That(ex!.Failure, Is.EqualTo(BrokerFailure.Unavailable));
        Assert.That(ex.Reason, Is.EqualTo(Reasons.LeaseStoreUnavailable));
        f.Issuer.Verify(i => i.RevokeAsync(It.Is<Lease>(l => l.LeaseId == "lease_r"), It.IsAny<CancellationToken>()), Times.Once);
        Assert.That(f.Audit.Events, Is.Empty, "nothing audited as renewed");
    }
}
