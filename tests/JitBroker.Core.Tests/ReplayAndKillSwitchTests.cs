using JitBroker.Core;
using JitBroker.Core.Handlers;
using Moq;
using NUnit.Framework;

namespace JitBroker.Core.Tests;

public sealed class ReplayAndKillSwitchTests
{
    [Test]
    public async Task Bound_mode_accepts_the_same_task_and_refuses_another()
    {
        var f = new PipelineFixture();
        var token = f.Token("cached-svid");
        await f.RequestCredential.HandleAsync(token, PipelineFixture.Request("t1"));
        await f.RequestCredential.HandleAsync(token, PipelineFixture.Request("t1"));
        await f.RequestCredential.HandleAsync(token, PipelineFixture.Request("t1", tools: "crm"));

        var ex = Assert.ThrowsAsync<BrokerException>(() => f.RequestCredential.HandleAsync(token, PipelineFixture.Request("t2")).AsTask());
        Assert.That(ex!.Reason, Is.EqualTo(Reasons.TokenReplayed));
        Assert.That(ex.Failure, Is.EqualTo(BrokerFailure.Unauthenticated));
    }

    [Test]
    public async Task Strict_mode_accepts_each_token_once()
    {
        var f = new PipelineFixture();
        f.Options.ReplayMode = ReplayMode.Strict;
        var token = f.Token("one-shot");
        await f.RequestCredential.HandleAsync(token, PipelineFixture.Request("t1"));

        var ex = Assert.ThrowsAsync<BrokerException>(() => f.RequestCredential.HandleAsync(token, PipelineFixture.Request("t1")).AsTask());
        Assert.That(ex!.Reason, Is.EqualTo(Reasons.TokenReplayed));
    }

    [Test]
    public async Task Identities_without_a_replay_key_are_not_replay_checked()
    {
        var cache = new JitBroker.Leases.InMemoryReplayCache(TimeProvider.System);
        var guard = new ReplayGuard(cache, new BrokerOptions { ReplayMode = ReplayMode.Strict }, TimeProvider.System);
        var mtls = PipelineFixture.Identity("spiffe://example.org/a", "cert") with { ReplayKey = null };

        await guard.CheckAsync(mtls, "h1");
        Assert.DoesNotThrowAsync(async () => await guard.CheckAsync(mtls, "h2"));
    }

    [Test]
    public async Task A_blocked_agent_gets_nothing_and_the_refusal_is_audited()
    {
        var f = new PipelineFixture();
        await f.KillSwitch.BlockAsync(new AgentBlock("spiffe://example.org/agents/*", "compromised", "oncall@example.org", f.Time.GetUtcNow()));

        var ex = Assert.ThrowsAsync<BrokerException>(() => f.RequestCredential.HandleAsync(f.Token(), PipelineFixture.Request()).AsTask());

        Assert.That(ex!.Failure, Is.EqualTo(BrokerFailure.PermissionDenied));
        Assert.That(ex.Reason, Is.EqualTo(Reasons.AgentBlocked));
        Assert.That(ex.Message, Does.Contain("compromised"));
        Assert.That((await f.Leases.CountByStateAsync())[LeaseState.Active], Is.Zero);
        Assert.That(f.Audit.OfType(AuditEventTypes.RequestDenied).Single().Reason, Is.EqualTo(Reasons.AgentBlocked));
    }

    [Test]
    public async Task Issuance_is_audited_with_the_fingerprint_and_never_the_secret()
    {
        var f = new PipelineFixture();
        var granted = await f.IssueAsync();

        var issued = f.Audit.OfType(AuditEventTypes.CredentialIssued).Single();
        Assert.Multiple(() =>
        {
            Assert.That(issued.LeaseId, Is.EqualTo(granted.Lease.LeaseId));
            Assert.That(issued.CredentialFingerprint, Is.EqualTo(Fingerprints.Of(granted.Credential.Secret)));
            Assert.That(issued.Intent!.Action, Is.EqualTo("tickets.create"));
            Assert.That(issued.ToString(), Does.Not.Contain(granted.Credential.Secret));
        });
    }

    [Test]
    public async Task When_the_audit_cannot_be_written_the_credential_is_revoked_and_not_handed_out()
    {
        var f = new PipelineFixture();
        f.Audit.Fail = true;

        var ex = Assert.ThrowsAsync<BrokerException>(() => f.RequestCredential.HandleAsync(f.Token(), PipelineFixture.Request()).AsTask());

        Assert.That(ex!.Failure, Is.EqualTo(BrokerFailure.Unavailable));
        Assert.That(ex.Reason, Is.EqualTo(Reasons.Audit.Unavailable));
        var counts = await f.Leases.CountByStateAsync();
        Assert.That(counts[LeaseState.Active], Is.Zero, "no live lease is left behind");
        Assert.That(counts[LeaseState.Revoked], Is.EqualTo(1));
        Assert.That(f.Issuer.Revoked, Has.Count.EqualTo(1));
    }
}
