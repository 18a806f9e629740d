using JitBroker.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using JitBroker.Testing;
using Moq;
using NUnit.Framework;

namespace JitBroker.Core.Tests;

/// <summary>The one hook of the Shared Signals transmitter in the revocation path (LeaseRevoker): who is signalled, when, and what a failure does.</summary>
public sealed class RevocationSignalsHookTests
{
    private readonly FakeTimeProvider _time = TestClock.Create();

    private Lease LeaseFor(string id) => new()
    {
        LeaseId = id, TaskId = "task-1", AgentId = "spiffe://t/agent", IssuerKind = "jwt", BackendHandle = id,
        Scope = new GrantedScope("aud", "act", [], []), IssuedAt = _time.GetUtcNow(), ExpiresAt = _time.GetUtcNow().AddMinutes(5),
        CredentialFingerprint = Fingerprints.Of(id),
    };

    private LeaseRevoker Revoker(IRevocationQueue queue, IRevocationSignals signals)
    {
        var issuer = new Mock<ICredentialIssuer>();
        issuer.SetupGet(i => i.Kind).Returns("jwt");
        issuer.Setup(i => i.RevokeAsync(It.IsAny<Lease>(), It.IsAny<CancellationToken>())).ReturnsAsync(RevocationResult.Revoked);
        return new LeaseRevoker(queue, new IssuerRegistry([issuer.Object]), new RetryBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1)), _time,
            NullLogger<LeaseRevoker>.Instance, signals: signals);
    }

    [Test]
    public async Task Only_the_leases_this_call_revoked_are_signalled_and_before_it_returns()
    {
        var queue = new Mock<IRevocationQueue>();
        queue.Setup(q => q.MarkRevokedManyAsync(It.IsAny<IReadOnlyList<string>>(), It.IsAny<DateTimeOffset>(), It.IsAny<string?>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync([true, false]);
        var signalled = new List<string>();
        var signals = new Mock<IRevocationSignals>();
        signals.Setup(s => s.RevokedAsync(It.IsAny<IReadOnlyList<Lease>>(), It.IsAny<DateTimeOffset>(), It.IsAny<CancellationToken>()))
            .Returns(async (IReadOnlyList<Lease> leases, DateTimeOffset _, CancellationToken _) =>
            {
                await Task.Yield();
                signalled.AddRange(leases.Select(l => l.LeaseId));
            });

        var results = await Revoker(queue.Object, signals.Object).RevokeClaimedManyAsync([LeaseFor("lease_a"), LeaseFor("lease_b")], 2);

        Assert.That(signalled, Is.EqualTo(new[] { "lease_a" }), "lease_b was revoked by a racing revoker, which signals it");
        Assert.That(results[1], Is.EqualTo(RevocationResult.AlreadyGone));
    }

    [Test]
    public async Task A_signal_that_cannot_be_queued_never_fails_the_revocation()
    {
        var queue = new Mock<IRevocationQueue>();
        queue.Setup(q => q.MarkRevokedManyAsync(It.IsAny<IReadOnlyList<string>>(), It.IsAny<DateTimeOffset>(), It.IsAny<string?>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync([true]);
        var signals = new Mock<IRevocationSignals>();
        signals.Setup(s => s.RevokedAsync(It.IsAny<IReadOnlyList<Lease>>(), It.IsAny<DateTimeOffset>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new InvalidOperationException("redis down"));

        var result = await Revoker(queue.Object, signals.Object).RevokeClaimedAsync(LeaseFor("lease_a"));

        Assert.That(result.IsDone, Is.True);
        signals.VerifyAll();
    }
}
