using System.Diagnostics;
using JitBroker.Core;
using JitBroker.Revocation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Moq;
using NUnit.Framework;

namespace JitBroker.Leases.Tests.Revocation;

/// <summary>The real thing: a generic host, the next-due sweep loop and the system clock.</summary>
[TestFixture]
public sealed class RevocationHostTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);

    [Test]
    [CancelAfter(20_000)]
    public async Task The_scheduled_sweep_revokes_an_expiring_lease_and_the_host_stops_cleanly(CancellationToken testToken)
    {
        var wakeUp = new SweepWakeUp();
        var store = new InMemoryLeaseStore(InMemoryLeaseStore.DefaultRevokedRetention, wakeUp);
        var issuer = RevokingIssuer();
        using var host = BuildHost(store, issuer.Object, wakeUp);

        await host.StartAsync(testToken);
        var lease = NewLease(TimeSpan.FromMilliseconds(300));
        await store.PutAsync(lease, testToken);

        var waited = Stopwatch.StartNew();
        Lease? current = null;
        while (waited.Elapsed < Bound)
        {
            current = await store.GetAsync(lease.LeaseId, testToken);
            if (current?.State == LeaseState.Revoked)
            {
                break;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), testToken);
        }

        Assert.That(current?.State, Is.EqualTo(LeaseState.Revoked), $"not revoked within {Bound.TotalSeconds}s");
        Assert.That(current!.RevokedAt, Is.GreaterThanOrEqualTo(lease.ExpiresAt), "revoked by expiry, not before it");
        issuer.Verify(i => i.RevokeAsync(It.Is<Lease>(l => l.LeaseId == lease.LeaseId), It.IsAny<CancellationToken>()), Times.Once);

        using var stopBudget = new CancellationTokenSource(Bound);
        var stopping = Stopwatch.StartNew();
        await host.StopAsync(stopBudget.Token);
        Assert.That(stopping.Elapsed, Is.LessThan(Bound));
    }

    [Test]
    [CancelAfter(20_000)]
    public async Task Stopping_the_host_interrupts_a_running_sweep_and_leaves_its_claim_to_lapse(CancellationToken testToken)
    {
        var store = new InMemoryLeaseStore();
        var revoking = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var issuer = FakeIssuer();
        issuer.Setup(i => i.RevokeAsync(It.IsAny<Lease>(), It.IsAny<CancellationToken>()))
            .Returns(async (Lease _, CancellationToken token) =>
            {
                // A backend that hangs: only the job's cancellation gets the sweep out of here.
                revoking.TrySetResult();
                await Task.Delay(Timeout.InfiniteTimeSpan, token);
                return RevocationResult.Revoked;
            });
        using var host = BuildHost(store, issuer.Object, new SweepWakeUp());
        var lease = NewLease(TimeSpan.FromMilliseconds(1));
        await store.PutAsync(lease, testToken);

        await host.StartAsync(testToken);
        await revoking.Task.WaitAsync(Bound, testToken);
        // The host's budget is twice the bound: a stop that merely waits the budget out (the sweep not
        // interrupted) then fails the assertion clearly instead of by a hair.
        using var stopBudget = new CancellationTokenSource(Bound * 2);
        var stopping = Stopwatch.StartNew();
        await host.StopAsync(stopBudget.Token);

        Assert.That(stopping.Elapsed, Is.LessThan(Bound));
        Assert.That((await store.GetAsync(lease.LeaseId, testToken))?.State, Is.EqualTo(LeaseState.Revoking),
            "still claimed: another replica (or the next start) takes it over when the claim lapses");
    }

    [Test]
    [CancelAfter(30_000)]
    public async Task A_lease_stored_here_is_revoked_at_its_due_time_not_at_the_sweep_interval(CancellationToken testToken)
    {
        // A 5 s interval: a loop that only polled would revoke this lease about 4.7 s late.
        var wakeUp = new SweepWakeUp();
        var store = new FlakyLeaseStore(new InMemoryLeaseStore(InMemoryLeaseStore.DefaultRevokedRetention, wakeUp));
        using var host = BuildHost(store, RevokingIssuer().Object, wakeUp, new RevocationOptions { SweepInterval = TimeSpan.FromSeconds(5) });
        await host.StartAsync(testToken);
        await AsleepAsync(store, testToken);

        var lease = NewLease(TimeSpan.FromMilliseconds(300));
        await store.PutAsync(lease, testToken);
        var revoked = await RevokedAsync(store, lease, TimeSpan.FromSeconds(10), testToken);

        Assert.That(revoked.RevokedAt - lease.ExpiresAt, Is.InRange(TimeSpan.Zero, TimeSpan.FromSeconds(1)),
            "woken by the store's signal at the lease's due time, not by the 5 s bound");
        await host.StopAsync(testToken);
    }

    [Test]
    [CancelAfter(30_000)]
    public async Task A_lease_another_replica_stores_is_caught_within_the_sweep_interval(CancellationToken testToken)
    {
        // The store signals nobody: as far as this host's loop knows, another replica wrote the lease.
        var store = new FlakyLeaseStore(new InMemoryLeaseStore());
        var interval = TimeSpan.FromSeconds(1);
        using var host = BuildHost(store, RevokingIssuer().Object, new SweepWakeUp(), new RevocationOptions { SweepInterval = interval });
        await host.StartAsync(testToken);
        await AsleepAsync(store, testToken);

        var lease = NewLease(TimeSpan.FromMilliseconds(100));
        await store.PutAsync(lease, testToken);
        var revoked = await RevokedAsync(store, lease, TimeSpan.FromSeconds(10), testToken);

        // At most one interval late by design; the rest is slack for a loaded machine.
        Assert.That(revoked.RevokedAt - lease.ExpiresAt, Is.InRange(TimeSpan.Zero, interval + TimeSpan.FromSeconds(1.5)));
        await host.StopAsync(testToken);
    }

    [Test]
    [CancelAfter(30_000)]
    public async Task An_idle_broker_looks_at_the_schedule_about_once_a_sweep_interval_and_stops_at_once(CancellationToken testToken)
    {
        // Defaults (SweepInterval 1 s). Each look or claim is one Redis script per bucket with a Redis ledger.
        var wakeUp = new SweepWakeUp();
        var store = new FlakyLeaseStore(new InMemoryLeaseStore(InMemoryLeaseStore.DefaultRevokedRetention, wakeUp));
        await store.PutAsync(NewLease(TimeSpan.FromHours(1)), testToken); // scheduled, but not for a long time
        using var host = BuildHost(store, RevokingIssuer().Object, wakeUp, new RevocationOptions());
        await host.StartAsync(testToken);
        await AsleepAsync(store, testToken);

        var before = store.NextDueCalls + store.ClaimCalls;
        await Task.Delay(TimeSpan.FromSeconds(3), testToken);
        var calls = store.NextDueCalls + store.ClaimCalls - before;

        Assert.That(calls, Is.InRange(1, 6), "alive (it looks), but no busy loop: about one look a second");
        using var stopBudget = new CancellationTokenSource(Bound * 2);
        var stopping = Stopwatch.StartNew();
        await host.StopAsync(stopBudget.Token);
        Assert.That(stopping.Elapsed, Is.LessThan(TimeSpan.FromSeconds(2)), "the sleep is cancelled, not waited out");
    }

    /// <summary>Waits until the loop has looked at the schedule once, then a little more: it is asleep.</summary>
    private static async Task AsleepAsync(FlakyLeaseStore store, CancellationToken token)
    {
        while (store.NextDueCalls == 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(20), token);
        }

        await Task.Delay(TimeSpan.FromMilliseconds(200), token);
    }

    private static async Task<Lease> RevokedAsync(ILeaseStore store, Lease lease, TimeSpan bound, CancellationToken token)
    {
        var waited = Stopwatch.StartNew();
        while (waited.Elapsed < bound)
        {
            if (await store.GetAsync(lease.LeaseId, token) is { State: LeaseState.Revoked } revoked)
            {
                return revoked;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), token);
        }

        throw new AssertionException($"not revoked within {bound.TotalSeconds}s");
    }

    private static Mock<ICredentialIssuer> RevokingIssuer()
    {
        var issuer = FakeIssuer();
        issuer.Setup(i => i.RevokeAsync(It.IsAny<Lease>(), It.IsAny<CancellationToken>()))
            .Returns(() => ValueTask.FromResult(RevocationResult.Revoked));
        return issuer;
    }

    private static Mock<ICredentialIssuer> FakeIssuer()
    {
        var issuer = new Mock<ICredentialIssuer>();
        issuer.SetupGet(i => i.Kind).Returns("fake");
        return issuer;
    }

    /// <summary>A host whose sweep loop reads <paramref name="store"/> and is woken through <paramref name="wakeUp"/>.</summary>
    private static IHost BuildHost(ILeaseStore store, ICredentialIssuer issuer, SweepWakeUp wakeUp, RevocationOptions? options = null)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<IRevocationQueue>(store);
        builder.Services.AddSingleton(new BrokerOptions());
        builder.Services.AddSingleton(new IssuerRegistry([issuer]));
        builder.Services.AddSingleton(new RetryBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1)));
        builder.Services.AddSingleton<LeaseRevoker>();
        builder.Services.AddSingleton(wakeUp); // before AddJitBrokerRevocation, which only adds its own when none is there
        builder.Services.AddJitBrokerRevocation(options ?? new RevocationOptions { SweepInterval = TimeSpan.FromMilliseconds(100) });
        return builder.Build();
    }

    private static Lease NewLease(TimeSpan expiresIn)
    {
        var now = TimeProvider.System.GetUtcNow();
        return new Lease
        {
            LeaseId = "lease-" + Guid.NewGuid().ToString("N"),
            TaskId = "task-1",
            AgentId = "spiffe://dev.local/agent/a",
            IssuerKind = "fake",
            BackendHandle = "jti-1",
            Scope = new GrantedScope("https://tools.example", "read", [], []),
            IssuedAt = now,
            ExpiresAt = now + expiresIn,
            CredentialFingerprint = "sha256:00",
        };
    }
}
