using JitBroker.Core;
using JitBroker.Revocation;
using JitBroker.Testing;
using Moq;
using NUnit.Framework;

namespace JitBroker.Leases.Tests.Revocation;

[TestFixture]
public sealed class RevocationSweeperTests
{
    [Test]
    public async Task Expired_leases_are_revoked_and_unexpired_ones_left_alone()
    {
        var h = new SweepHarness();
        var expiring = await h.PutAsync(TimeSpan.FromSeconds(10));
        var later = await h.PutAsync(TimeSpan.FromMinutes(5));
        h.Time.Advance(TimeSpan.FromSeconds(11));

        var processed = await h.Sweeper.SweepOnceAsync();

        Assert.That(processed, Is.EqualTo(1));
        var revoked = await h.GetAsync(expiring.LeaseId);
        Assert.That((revoked.State, revoked.RevokedAt, revoked.DueAt), Is.EqualTo((LeaseState.Revoked, (DateTimeOffset?)h.Time.GetUtcNow(), (DateTimeOffset?)null)));
        Assert.That((await h.GetAsync(later.LeaseId)).State, Is.EqualTo(LeaseState.Active));
        h.Issuer.Verify(i => i.RevokeAsync(It.Is<Lease>(l => l.LeaseId == expiring.LeaseId), It.IsAny<CancellationToken>()), Times.Once);
        Assert.That(h.RevokeCalls, Is.EqualTo(1));
    }

    [Test]
    public async Task Nothing_due_means_nothing_processed()
    {
        var h = new SweepHarness();
        await h.PutAsync(TimeSpan.FromSeconds(10));

        Assert.That(await h.Sweeper.SweepOnceAsync(), Is.Zero);
        Assert.That(h.RevokeCalls, Is.Zero);
    }

    [Test]
    public async Task A_failed_revocation_is_parked_with_its_error_and_retried_only_when_its_backoff_is_due()
    {
        var h = new SweepHarness();
        h.IssuerReturns(RevocationResult.Failed("vault answered 502"));
        var lease = await h.PutAsync(TimeSpan.FromSeconds(1));
        h.Time.Advance(TimeSpan.FromSeconds(1));
        var firstAttemptAt = h.Time.GetUtcNow();

        await h.Sweeper.SweepOnceAsync();

        var failed = await h.GetAsync(lease.LeaseId);
        Assert.That((failed.State, failed.Attempts, failed.LastError), Is.EqualTo((LeaseState.RevokeFailed, 1, "vault answered 502")));
        Assert.That(failed.DueAt, Is.EqualTo(firstAttemptAt + SweepHarness.InitialDelay));

        h.Time.Advance(SweepHarness.InitialDelay - TimeSpan.FromMilliseconds(1));
        Assert.That(await h.Sweeper.SweepOnceAsync(), Is.Zero, "not before the backoff is over");
        Assert.That(h.RevokeCalls, Is.EqualTo(1));

        h.Time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.That(await h.Sweeper.SweepOnceAsync(), Is.EqualTo(1));
        Assert.That(h.RevokeCalls, Is.EqualTo(2));
        Assert.That((await h.GetAsync(lease.LeaseId)).Attempts, Is.EqualTo(2));
    }

    [Test]
    public async Task Twenty_failures_in_a_row_keep_the_lease_scheduled_with_growing_capped_delays_until_it_is_revoked()
    {
        var h = new SweepHarness();
        h.IssuerReturns(RevocationResult.Failed("backend down"));
        var lease = await h.PutAsync(TimeSpan.FromSeconds(1));
        h.Time.Advance(TimeSpan.FromSeconds(1));
        var delays = new List<TimeSpan>();

        for (var attempt = 1; attempt <= 20; attempt++)
        {
            var attemptAt = h.Time.GetUtcNow();
            Assert.That(await h.Sweeper.SweepOnceAsync(), Is.EqualTo(1), $"attempt {attempt}");
            var parked = await h.GetAsync(lease.LeaseId);
            Assert.That((parked.State, parked.Attempts), Is.EqualTo((LeaseState.RevokeFailed, attempt)));
            Assert.That(parked.DueAt, Is.Not.Null, "no attempt limit: it stays on the schedule");
            delays.Add(parked.DueAt!.Value - attemptAt);
            h.Time.SetUtcNow(parked.DueAt.Value);
        }

        Assert.That(delays, Is.Ordered.Ascending);
        Assert.That(delays[1], Is.GreaterThan(delays[0]), "the delay grows");
        Assert.That(delays, Has.All.LessThanOrEqualTo(SweepHarness.MaxDelay));
        Assert.That(delays[^1], Is.EqualTo(SweepHarness.MaxDelay), "and is capped");

        h.IssuerReturns(RevocationResult.Revoked);
        Assert.That(await h.Sweeper.SweepOnceAsync(), Is.EqualTo(1));
        var revoked = await h.GetAsync(lease.LeaseId);
        Assert.That((revoked.State, revoked.DueAt), Is.EqualTo((LeaseState.Revoked, (DateTimeOffset?)null)));
        Assert.That(h.RevokeCalls, Is.EqualTo(21));
    }

    [Test]
    public async Task Leases_whose_issuers_revocation_is_the_ledgers_mark_are_revoked_by_the_claim_without_asking_the_issuer()
    {
        var h = new SweepHarness(ledgerMarkIssuer: true);
        var leases = new List<Lease>();
        for (var i = 0; i < 7; i++)
        {
            leases.Add(await h.PutAsync(TimeSpan.FromSeconds(1 + i)));
        }

        var notYet = await h.PutAsync(TimeSpan.FromMinutes(5));
        h.Time.Advance(TimeSpan.FromSeconds(10));
        var sweptAt = h.Time.GetUtcNow();

        Assert.That(await h.Sweeper.SweepOnceAsync(), Is.EqualTo(7));

        Assert.That(h.RevokeCalls, Is.Zero, "nothing to tell a backend: the mark is the revocation");
        foreach (var lease in leases)
        {
            var revoked = await h.GetAsync(lease.LeaseId);
            Assert.That((revoked.State, revoked.RevokedAt, revoked.DueAt), Is.EqualTo((LeaseState.Revoked, (DateTimeOffset?)sweptAt, (DateTimeOffset?)null)), lease.LeaseId);
        }

        Assert.That((await h.GetAsync(notYet.LeaseId)).State, Is.EqualTo(LeaseState.Active));
        Assert.That(await h.Sweeper.SweepOnceAsync(), Is.Zero, "off the schedule");
    }

    [Test]
    public async Task When_the_ledger_cannot_revoke_in_the_claim_the_leases_stay_due_and_are_revoked_once_it_can()
    {
        var h = new SweepHarness(ledgerMarkIssuer: true);
        var lease = await h.PutAsync(TimeSpan.FromSeconds(1));
        h.Time.Advance(TimeSpan.FromSeconds(2));
        h.Store.MarksFail = true;

        Assert.That(await h.Sweeper.SweepOnceAsync(), Is.Zero);
        Assert.That(h.Sweeper.LastClaimFailed, Is.True, "the pass ends on the failed claim and the loop backs off");
        Assert.That((await h.GetAsync(lease.LeaseId)).State, Is.EqualTo(LeaseState.Active), "nothing half-done: still due");

        h.Store.MarksFail = false;
        Assert.That(await h.Sweeper.SweepOnceAsync(), Is.EqualTo(1));
        Assert.That((await h.GetAsync(lease.LeaseId)).State, Is.EqualTo(LeaseState.Revoked));
    }

    [Test]
    public async Task Already_gone_at_the_backend_counts_as_revoked()
    {
        var h = new SweepHarness();
        h.IssuerReturns(RevocationResult.AlreadyGone);
        var lease = await h.PutAsync(TimeSpan.FromSeconds(1));
        h.Time.Advance(TimeSpan.FromSeconds(2));

        await h.Sweeper.SweepOnceAsync();

        Assert.That((await h.GetAsync(lease.LeaseId)).State, Is.EqualTo(LeaseState.Revoked));
        Assert.That(await h.Store.ClaimDueAsync(SweepHarness.T0 + TimeSpan.FromDays(365), 10, h.Broker.RevocationClaimTimeout), Is.Empty, "off the schedule");
    }

    [Test]
    public async Task An_issuer_that_throws_leaves_the_lease_failed_and_scheduled_not_lost()
    {
        var h = new SweepHarness();
        h.Issuer.Setup(i => i.RevokeAsync(It.IsAny<Lease>(), It.IsAny<CancellationToken>()))
            .Throws(new InvalidOperationException("socket closed"));
        var lease = await h.PutAsync(TimeSpan.FromSeconds(1));
        h.Time.Advance(TimeSpan.FromSeconds(2));

        Assert.That(await h.Sweeper.SweepOnceAsync(), Is.EqualTo(1));

        var failed = await h.GetAsync(lease.LeaseId);
        Assert.That((failed.State, failed.Attempts), Is.EqualTo((LeaseState.RevokeFailed, 1)));
        Assert.That(failed.LastError, Is.Not.Null.And.Not.Empty);
        Assert.That(failed.DueAt, Is.Not.Null);
        Assert.That(await h.Store.ClaimDueAsync(failed.DueAt!.Value - TimeSpan.FromMilliseconds(1), 10, h.Broker.RevocationClaimTimeout), Is.Empty);
        Assert.That((await h.Store.ClaimDueAsync(failed.DueAt.Value, 10, h.Broker.RevocationClaimTimeout)).Select(l => l.LeaseId), Is.EqualTo(new[] { lease.LeaseId }),
            "still scheduled, for its retry time");
    }

    [Test]
    public async Task A_lease_claimed_by_a_replica_that_died_is_revoked_once_the_claim_lapses()
    {
        var h = new SweepHarness();
        var lease = await h.PutAsync(TimeSpan.FromSeconds(1));
        h.Time.Advance(TimeSpan.FromSeconds(1));
        var deadReplicaClaim = await h.Store.ClaimDueAsync(h.Time.GetUtcNow(), 100, h.Broker.RevocationClaimTimeout);
        Assert.That(deadReplicaClaim, Has.Count.EqualTo(1));

        Assert.That(await h.Sweeper.SweepOnceAsync(), Is.Zero, "the other replica's claim still holds");
        h.Time.Advance(h.Broker.RevocationClaimTimeout);
        Assert.That(await h.Sweeper.SweepOnceAsync(), Is.EqualTo(1));

        Assert.That((await h.GetAsync(lease.LeaseId)).State, Is.EqualTo(LeaseState.Revoked));
    }

    [TestCase(35)]
    [TestCase(30)]
    public async Task A_backlog_larger_than_a_batch_is_drained_in_one_sweep(int leaseCount)
    {
        var h = new SweepHarness(new RevocationOptions { BatchSize = 10 });
        for (var i = 0; i < leaseCount; i++)
        {
            await h.PutAsync(TimeSpan.FromSeconds(1));
        }

        var notYet = await h.PutAsync(TimeSpan.FromMinutes(1));
        h.Time.Advance(TimeSpan.FromSeconds(2));

        Assert.That(await h.Sweeper.SweepOnceAsync(), Is.EqualTo(leaseCount));
        Assert.That(await h.Store.ListAllInStateAsync(LeaseState.Revoked), Has.Count.EqualTo(leaseCount));
        Assert.That(h.Store.ClaimCalls, Is.EqualTo((leaseCount / 10) + 1), "claims until a batch comes back short");
        Assert.That(await h.Store.ClaimDueAsync(notYet.ExpiresAt - TimeSpan.FromMilliseconds(1), 100, h.Broker.RevocationClaimTimeout), Is.Empty);
        Assert.That((await h.Store.ClaimDueAsync(notYet.ExpiresAt, 100, h.Broker.RevocationClaimTimeout)).Select(l => l.LeaseId), Is.EqualTo(new[] { notYet.LeaseId }),
            "what is left is due at its own expiry");
    }
}
