using JitBroker.Core;
using JitBroker.Revocation;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;
using NUnit.Framework;

namespace JitBroker.Leases.Tests.Revocation;

/// <summary>
/// The sweep loop against a store that answers the next-due look but refuses every claim: it must keep trying (revocation
/// never gives up) without sweeping every 10 ms, and revoke as soon as the store takes claims again. Real time: the loop
/// sleeps on the system clock.
/// </summary>
[CancelAfter(30_000)]
public sealed class SweepLoopBackoffTests
{
    [TestCase(0, 10)]
    [TestCase(1, 20)]
    [TestCase(3, 80)]
    [TestCase(6, 400)]
    [TestCase(1000, 400)]
    public void Spacing_doubles_per_failure_in_a_row_up_to_the_sweep_interval(int failures, int expectedMs) =>
        Assert.That(RevocationSweepLoop.SpacingAfter(failures, TimeSpan.FromMilliseconds(400)), Is.EqualTo(TimeSpan.FromMilliseconds(expectedMs)));

    [Test]
    public async Task Refused_claims_are_retried_with_back_off_and_the_lease_is_revoked_once_claims_work(CancellationToken cancellationToken)
    {
        var time = TimeProvider.System;
        var options = new RevocationOptions { SweepInterval = TimeSpan.FromMilliseconds(400) };
        var store = new FlakyLeaseStore(new InMemoryLeaseStore()) { ClaimDueFails = true };
        var issuer = new Mock<ICredentialIssuer>();
        issuer.SetupGet(i => i.Kind).Returns("fake");
        issuer.Setup(i => i.RevokeAsync(It.IsAny<Lease>(), It.IsAny<CancellationToken>())).Returns(() => ValueTask.FromResult(RevocationResult.Revoked));
        var revoker = new LeaseRevoker(store, new IssuerRegistry([issuer.Object]), new RetryBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60), () => 1.0),
            time, NullLogger<LeaseRevoker>.Instance);
        var sweeper = new RevocationSweeper(store, revoker, new BrokerOptions(), options, time, NullLogger<RevocationSweeper>.Instance);
        var loop = new RevocationSweepLoop(sweeper, store, new SweepWakeUp(), options, time, Mock.Of<IHostApplicationLifetime>(), NullLogger<RevocationSweepLoop>.Instance);
        var now = time.GetUtcNow();
        var lease = new Lease
        {
            LeaseId = "lease-" + Guid.NewGuid().ToString("N"), TaskId = "task-1", AgentId = "spiffe://dev.local/agent/a", IssuerKind = "fake",
            BackendHandle = "jti-1", Scope = new GrantedScope("https://tools.example", "read", ["git.clone"], ["repo:acme/app"]),
            IssuedAt = now - TimeSpan.FromMinutes(1), ExpiresAt = now - TimeSpan.FromSeconds(1), DueAt = now - TimeSpan.FromSeconds(1),
            CredentialFingerprint = "sha256:00",
        };
        await store.PutAsync(lease, cancellationToken);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var running = loop.RunAsync(stop.Token);
        await Task.Delay(TimeSpan.FromSeconds(1.5), cancellationToken);
        var refusedClaims = store.ClaimCalls;

        // Spacing 20, 40, 80, 160, 320, then 400 ms: about eight claims in 1.5 s, where a 10 ms spacing would make ~150.
        Assert.That(refusedClaims, Is.InRange(3, 15), "kept trying, with back-off");
        Assert.That((await store.GetAsync(lease.LeaseId, cancellationToken))!.State, Is.EqualTo(LeaseState.Active));

        store.ClaimDueFails = false;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(3);
        while ((await store.GetAsync(lease.LeaseId, cancellationToken))!.State != LeaseState.Revoked && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20, cancellationToken);
        }

        Assert.That((await store.GetAsync(lease.LeaseId, cancellationToken))!.State, Is.EqualTo(LeaseState.Revoked), "revoked within a sweep interval of the store recovering");
        stop.Cancel();
        Assert.That(async () => await running, Throws.InstanceOf<OperationCanceledException>());
    }
}
