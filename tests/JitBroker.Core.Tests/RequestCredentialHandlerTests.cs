using NUnit.Framework;
using JitBroker.Core;
using JitBroker.Core.Handlers;
using Moq;

namespace JitBroker.Core.Tests;

public sealed class RequestCredentialHandlerTests
{
    [Test]
    public async Task Lease_is_recorded_before_the_credential_is_returned()
    {
        var f = new BrokerFixture();
        f.AllowWith(TimeSpan.FromMinutes(5));
        f.IssueEchoingTtl();
        Lease? stored = null;
        f.Leases.Setup(l => l.PutAsync(It.IsAny<Lease>(), It.IsAny<CancellationToken>()))
            .Callback((Lease l, CancellationToken _) => stored = l).Returns(Task.CompletedTask);

        var result = (await f.RequestHandler().HandleAsync(BrokerFixture.Evidence(), BrokerFixture.Request())).Granted!;

        Assert.That(stored, Is.Not.Null);
        Assert.Multiple(() =>
        {
            Assert.That(stored!.LeaseId, Is.EqualTo(result.Lease.LeaseId));
            Assert.That(stored.AgentId, Is.EqualTo(BrokerFixture.AgentId));
            Assert.That(stored.State, Is.EqualTo(LeaseState.Active));
            Assert.That(stored.DueAt, Is.EqualTo(stored.ExpiresAt));
            Assert.That(stored.CredentialFingerprint, Is.EqualTo(Fingerprints.Of(result.Credential.Secret)));
            Assert.That(stored.ToString(), Does.Not.Contain(result.Credential.Secret), "a lease must never hold the secret");
            Assert.That(LeaseIds.IsWellFormed(stored.LeaseId), Is.True);
            Assert.That(stored.RuleIds, Is.EqualTo(new[] { "rule-1" }));
        });
    }

    [Test]
    public void Persist_failure_revokes_the_minted_credential_and_answers_unavailable()
    {
        var f = new BrokerFixture();
        f.AllowWith(TimeSpan.FromMinutes(5));
        f.IssueEchoingTtl();
        f.Leases.Setup(l => l.PutAsync(It.IsAny<Lease>(), It.IsAny<CancellationToken>())).ThrowsAsync(new IOException("redis down"));
        f.Issuer.Setup(i => i.RevokeAsync(It.IsAny<Lease>(), It.IsAny<CancellationToken>())).ReturnsAsync(RevocationResult.Revoked);

        var ex = Assert.ThrowsAsync<BrokerException>(() => f.RequestHandler().HandleAsync(BrokerFixture.Evidence(), BrokerFixture.Request()).AsTask());

        Assert.That(ex!.Failure, Is.EqualTo(BrokerFailure.Unavailable));
        Assert.That(ex.Reason, Is.EqualTo(Reasons.LeaseStoreUnavailable));
        f.Issuer.Verify(i => i.RevokeAsync(It.Is<Lease>(l => l.IssuerKind == "jwt"), It.IsAny<CancellationToken>()), Times.Once);
    }

    [Test]
    public void Denial_carries_the_policy_reason_and_mints_nothing()
    {
        var f = new BrokerFixture();
        f.Policy.Setup(p => p.Decide(It.IsAny<WorkloadIdentity>(), It.IsAny<CredentialRequest>()))
            .Returns(PolicyDecision.Deny("Deleting data needs a human operator.", "nobody-deletes"));

        var ex = Assert.ThrowsAsync<BrokerException>(() => f.RequestHandler().HandleAsync(BrokerFixture.Evidence(), BrokerFixture.Request()).AsTask());

        Assert.That(ex!.Failure, Is.EqualTo(BrokerFailure.PermissionDenied));
        Assert.That(ex.Reason, Is.EqualTo(Reasons.PolicyDenied));
        Assert.That(ex.Message, Does.Contain("needs a human"));
        f.Issuer.Verify(i => i.IssueAsync(It.IsAny<IssueRequest>(), It.IsAny<CancellationToken>()), Times.Never);
    }

    [Test]
    public async Task Granted_ttl_is_clamped_to_the_global_maximum()
    {
        var f = new BrokerFixture();
        f.Options.MaxTtl = TimeSpan.FromMinutes(2);
        f.AllowWith(TimeSpan.FromMinutes(10));
        f.IssueEchoingTtl();
        f.Leases.Setup(l => l.PutAsync(It.IsAny<Lease>(), It.IsAny<CancellationToken>())).Returns(Task.CompletedTask);

        var result = (await f.RequestHandler().HandleAsync(BrokerFixture.Evidence(), BrokerFixture.Request())).Granted!;

        Assert.That(result.Lease.ExpiresAt - result.Lease.IssuedAt, Is.EqualTo(TimeSpan.FromMinutes(2)));
        f.Issuer.Verify(i => i.IssueAsync(It.Is<IssueRequest>(r => r.Grant.Ttl == TimeSpan.FromMinutes(2)), It.IsAny<CancellationToken>()));
    }

    [Test]
    public void Requested_ttl_below_the_minimum_is_invalid()
    {
        var f = new BrokerFixture();
        var ex = Assert.ThrowsAsync<BrokerException>(() =>
            f.RequestHandler().HandleAsync(BrokerFixture.Evidence(), BrokerFixture.Request(ttl: TimeSpan.FromSeconds(1))).AsTask());
        Assert.That(ex!.Failure, Is.EqualTo(BrokerFailure.InvalidArgument));
    }

    [Test]
    public void Attestation_failure_stops_before_policy()
    {
        var f = new BrokerFixture();
        f.Attestor.Setup(a => a.AttestAsync(It.IsAny<AttestationEvidence>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new BrokerException(BrokerFailure.Unauthenticated, "token.expired", "expired"));

        var ex = Assert.ThrowsAsync<BrokerException>(() => f.RequestHandler().HandleAsync(BrokerFixture.Evidence(), BrokerFixture.Request()).AsTask());

        Assert.That(ex!.Reason, Is.EqualTo("token.expired"));
        f.Policy.Verify(p => p.Decide(It.IsAny<WorkloadIdentity>(), It.IsAny<CredentialRequest>()), Times.Never);
    }

    [Test]
    public void Missing_identity_is_unauthenticated()
    {
        var f = new BrokerFixture();
        var ex = Assert.ThrowsAsync<BrokerException>(() => f.RequestHandler().HandleAsync(new AttestationEvidence(null), BrokerFixture.Request()).AsTask());
        Assert.That(ex!.Failure, Is.EqualTo(BrokerFailure.Unauthenticated));
        Assert.That(ex.Reason, Is.EqualTo(Reasons.IdentityMissing));
    }

    [Test]
    public void An_allow_for_an_unconfigured_issuer_kind_is_invalid_argument()
    {
        var f = new BrokerFixture();
        f.Policy.Setup(p => p.Decide(It.IsAny<WorkloadIdentity>(), It.IsAny<CredentialRequest>()))
            .Returns(new PolicyDecision(DecisionEffect.Allow, BrokerFixture.Grant(TimeSpan.FromMinutes(1)) with { CredentialKind = "vault-token" }, ["r"], "ok"));

        var ex = Assert.ThrowsAsync<BrokerException>(() => f.RequestHandler().HandleAsync(BrokerFixture.Evidence(), BrokerFixture.Request(kind: "vault-token")).AsTask());
        Assert.That(ex!.Reason, Is.EqualTo(Reasons.IssuerUnknownKind));
    }

    [Test]
    public async Task Empty_kind_means_the_default_kind()
    {
        var f = new BrokerFixture();
        f.AllowWith(TimeSpan.FromMinutes(1));
        f.IssueEchoingTtl();
        f.Leases.Setup(l => l.PutAsync(It.IsAny<Lease>(), It.IsAny<CancellationToken>())).Returns(Task.CompletedTask);

        await f.RequestHandler().HandleAsync(BrokerFixture.Evidence(), BrokerFixture.Request(kind: ""));

        f.Policy.Verify(p => p.Decide(It.IsAny<WorkloadIdentity>(), It.Is<CredentialRequest>(r => r.CredentialKind == "jwt")));
    }

    [Test]
    public void A_malformed_identity_from_an_attestor_is_rejected_at_the_boundary()
    {
        var f = new BrokerFixture();
        f.Attestor.Setup(a => a.AttestAsync(It.IsAny<AttestationEvidence>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync(BrokerFixture.Identity("") with { });
        Assert.ThrowsAsync<InvalidOperationException>(() => f.RequestHandler().HandleAsync(BrokerFixture.Evidence(), BrokerFixture.Request()).AsTask());
    }
}
