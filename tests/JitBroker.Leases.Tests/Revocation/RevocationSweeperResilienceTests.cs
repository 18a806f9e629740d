using JitBroker.Core;
using JitBroker.Revocation;
using Moq;
using NUnit.Framework;

namespace JitBroker.Leases.Tests.Revocation;

/// <summary>Outages, bounded parallelism and shutdown: the sweep never loses a lease and never crashes.</summary>
[TestFixture]
public sealed class RevocationSweeperResilienceTests
{
    [Test]
    public async Task A_store_outage_while_claiming_is_absorbed_and_the_next_sweep_catches_up()
    {
        var h = new SweepHarness();
        var lease = await h.PutAsync(TimeSpan.FromSeconds(1));
        h.Time.Advance(TimeSpan.FromSeconds(2));
        h.Store.ClaimsFail = true;

        Assert.That(await h.Sweeper.SweepOnceAsync(), Is.Zero);
        Assert.That(h.RevokeCalls, Is.Zero);

        h.Store.ClaimsFail = false;
        Assert.That(await h.Sweeper.SweepOnceAsync(), Is.EqualTo(1));
        Assert.That((await h.GetAsync(lease.LeaseId)).State, Is.EqualTo(LeaseState.Revoked));
    }

    [Test]
    public async Task An_outcome_that_cannot_be_recorded_is_retried_after_the_claim_lapses()
    {
        var h = new SweepHarness();
        var lease = await h.PutAsync(TimeSpan.FromSeconds(1));
        h.Time.Advance(TimeSpan.FromSeconds(2));
        h.Store.MarksFail = true;

        Assert.That(await h.Sweeper.SweepOnceAsync(), Is.EqualTo(1), "processed, though its outcome was not recorded");
        Assert.That((await h.GetAsync(lease.LeaseId)).State, Is.EqualTo(LeaseState.Revoking));

        h.Store.MarksFail = false;
        Assert.That(await h.Sweeper.SweepOnceAsync(), Is.Zero, "still held by the claim");
        h.Time.Advance(h.Broker.RevocationClaimTimeout);
        Assert.That(await h.Sweeper.SweepOnceAsync(), Is.EqualTo(1));

        Assert.That((await h.GetAsync(lease.LeaseId)).State, Is.EqualTo(LeaseState.Revoked));
        Assert.That(h.RevokeCalls, Is.EqualTo(2), "revoking twice is safe: revocation is idempotent");
    }

    [Test]
    public async Task The_next_batch_is_claimed_while_the_current_one_is_being_revoked()
    {
        var h = new SweepHarness(new RevocationOptions { BatchSize = 5 });
        var claimedAhead = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sawClaimAhead = false;
        h.Issuer.Setup(i => i.RevokeAsync(It.IsAny<Lease>(), It.IsAny<CancellationToken>()))
            .Returns(async () =>
            {
                // The first batch's revocations wait (bounded) for the sweeper to claim the second batch.
                for (var waited = 0; h.Store.ClaimCalls < 2 && waited < 200; waited++)
                {
                    await Task.Delay(10);
                }

                sawClaimAhead |= h.Store.ClaimCalls >= 2 && h.RevokeCalls <= 5;
                return RevocationResult.Revoked;
            });
        for (var i = 0; i < 12; i++)
        {
            await h.PutAsync(TimeSpan.FromSeconds(1));
        }

        h.Time.Advance(TimeSpan.FromSeconds(2));

        Assert.That(await h.Sweeper.SweepOnceAsync(), Is.EqualTo(12));
        Assert.That(sawClaimAhead, Is.True, "the second claim must be in flight while the first batch is still being revoked");
        Assert.That(h.Store.ClaimCalls, Is.EqualTo(3), "5 + 5 + 2: the short third batch ends the pass");
    }

    [Test]
    public async Task Revocations_run_in_parallel_but_never_more_than_the_limit()
    {
        const int limit = 4;
        var h = new SweepHarness(new RevocationOptions { MaxParallelRevocations = limit });
        var inFlight = 0;
        var maxInFlight = 0;
        var limitReached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        h.Issuer.Setup(i => i.RevokeAsync(It.IsAny<Lease>(), It.IsAny<CancellationToken>()))
            .Returns(async () =>
            {
                var now = Interlocked.Increment(ref inFlight);
                InterlockedMax(ref maxInFlight, now);
                if (now == limit)
                {
                    limitReached.TrySetResult();
                }

                // The first calls wait until `limit` of them run at once; a bounded timeout keeps a broken
                // limiter from hanging the test (it then fails on the assertion instead).
                await Task.WhenAny(limitReached.Task, Task.Delay(TimeSpan.FromSeconds(5)));
                Interlocked.Decrement(ref inFlight);
                return RevocationResult.Revoked;
            });
        for (var i = 0; i < 20; i++)
        {
            await h.PutAsync(TimeSpan.FromSeconds(1));
        }

        h.Time.Advance(TimeSpan.FromSeconds(2));

        Assert.That(await h.Sweeper.SweepOnceAsync(), Is.EqualTo(20));
        Assert.That(maxInFlight, Is.EqualTo(limit));
        Assert.That(limitReached.Task.IsCompleted, Is.True);
    }

    [Test]
    public async Task A_cancelled_sweep_stops_and_its_claims_lapse_into_a_later_sweep()
    {
        var h = new SweepHarness();
        using var stopping = new CancellationTokenSource();
        h.Issuer.Setup(i => i.RevokeAsync(It.IsAny<Lease>(), It.IsAny<CancellationToken>()))
            .Returns(async (Lease _, CancellationToken token) =>
            {
                await stopping.CancelAsync();
                token.ThrowIfCancellationRequested();
                return RevocationResult.Revoked;
            });
        var lease = await h.PutAsync(TimeSpan.FromSeconds(1));
        h.Time.Advance(TimeSpan.FromSeconds(2));

        Assert.CatchAsync<OperationCanceledException>(() => h.Sweeper.SweepOnceAsync(stopping.Token));
        Assert.That((await h.GetAsync(lease.LeaseId)).State, Is.EqualTo(LeaseState.Revoking), "neither revoked nor lost");

        h.IssuerReturns(RevocationResult.Revoked);
        h.Time.Advance(h.Broker.RevocationClaimTimeout);
        Assert.That(await h.Sweeper.SweepOnceAsync(), Is.EqualTo(1));
        Assert.That((await h.GetAsync(lease.LeaseId)).State, Is.EqualTo(LeaseState.Revoked));
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }
}
