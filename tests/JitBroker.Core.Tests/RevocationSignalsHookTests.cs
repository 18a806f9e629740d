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
    public void With_signals_configured_the_ledger_never_revokes_in_its_claim_step()
    {
        // A signal must be queued before its lease is marked; a mark made inside the claim cannot wait for it.
        var issuer = new Mock<ICredentialIssuer>();
        issuer.SetupGet(i => i.Kind).Returns("jwt");
        issuer.SetupGet(i => i.RevokedByLedgerMark).Returns(true);
        var registry = new IssuerRegistry([issuer.Object]);
        var backoff = new RetryBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1));

        var withSignals = new LeaseRevoker(Mock.Of<IRevocationQueue>(), registry, backoff, _time, NullLogger<LeaseRevoker>.Instance,
            signals: Mock.Of<IRevocationSignals>());
        var without = new LeaseRevoker(Mock.Of<IRevocationQueue>(), registry, backoff, _time, NullLogger<LeaseRevoker>.Instance);

        Assert.That(withSignals.LedgerRevocation, Is.Null);
        Assert.That(without.LedgerRevocation?.IssuerKinds, Is.EquivalentTo(new[] { "jwt" }));
    }

    [Test]
    public async Task The_signals_are_queued_before_the_leases_are_marked_revoked()
    {
        var order = new List<string>();
        var queue = new Mock<IRevocationQueue>();
        queue.Setup(q => q.MarkRevokedManyAsync(It.IsAny<IReadOnlyList<string>>(), It.IsAny<DateTimeOffset>(), It.IsAny<string?>(), It.IsAny<CancellationToken>()))
            .Callback(() => order.Add("mark")).ReturnsAsync([true, false]);
        var signals = new Mock<IRevocationSignals>();
        signals.Setup(s => s.RevokedAsync(It.IsAny<IReadOnlyList<Lease>>(), It.IsAny<DateTimeOffset>(), It.IsAny<CancellationToken>()))
            .Returns(async (IReadOnlyList<Lease> leases, DateTimeOffset _, CancellationToken _) =>
            {
                await Task.Yield();
                order.AddRange(leases.Select(l => "signal " + l.LeaseId));
            });

        var results = await Revoker(queue.Object, signals.Object).RevokeClaimedManyAsync([LeaseFor("lease_a"), LeaseFor("lease_b")], 2);

        Assert.That(order, Is.EqualTo(new[] { "signal lease_a", "signal lease_b", "mark" }),
            "every lease the backends revoked is signalled first, even one a racing revoker then marks (a second signal is harmless)");
        Assert.That(results[1], Is.EqualTo(RevocationResult.AlreadyGone));
    }

    [Test]
    public async Task A_crash_between_queuing_the_signal_and_marking_the_lease_leaves_the_signal_queued_and_the_lease_to_be_retried()
    {
        // The fault is injected between the two steps: the ledger fails (as a replica dying there would leave it) after
        // the signal was stored. Before issue 20's fix the order was mark-then-queue, and this fault lost the signal.
        var queue = new Mock<IRevocationQueue>();
        queue.Setup(q => q.MarkRevokedManyAsync(It.IsAny<IReadOnlyList<string>>(), It.IsAny<DateTimeOffset>(), It.IsAny<string?>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new InvalidOperationException("replica died before the mark"));
        var queued = new List<string>();
        var signals = new Mock<IRevocationSignals>();
        signals.Setup(s => s.RevokedAsync(It.IsAny<IReadOnlyList<Lease>>(), It.IsAny<DateTimeOffset>(), It.IsAny<CancellationToken>()))
            .Callback((IReadOnlyList<Lease> leases, DateTimeOffset _, CancellationToken _) => queued.AddRange(leases.Select(l => l.LeaseId)))
            .Returns(Task.CompletedTask);

        Assert.ThrowsAsync<InvalidOperationException>(() => Revoker(queue.Object, signals.Object).RevokeClaimedAsync(LeaseFor("lease_a")));

        Assert.That(queued, Is.EqualTo(new[] { "lease_a" }), "the relying parties hear of it although the broker has not recorded it yet (fail closed)");
    }

    [Test]
    public async Task A_signal_that_cannot_be_queued_leaves_the_lease_unmarked_so_its_claim_lapses_and_it_is_retried()
    {
        var queue = new Mock<IRevocationQueue>();
        var signals = new Mock<IRevocationSignals>();
        signals.Setup(s => s.RevokedAsync(It.IsAny<IReadOnlyList<Lease>>(), It.IsAny<DateTimeOffset>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new InvalidOperationException("redis down"));

        Assert.ThrowsAsync<InvalidOperationException>(() => Revoker(queue.Object, signals.Object).RevokeClaimedAsync(LeaseFor("lease_a")));

        queue.Verify(q => q.MarkRevokedManyAsync(It.IsAny<IReadOnlyList<string>>(), It.IsAny<DateTimeOffset>(), It.IsAny<string?>(), It.IsAny<CancellationToken>()), Times.Never,
            "a revocation recorded without its signal is exactly the gap this closes");
        await Task.CompletedTask;
    }
}
