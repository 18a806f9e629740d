using System.Diagnostics;
using JitBroker.Core;
using JitBroker.Revocation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Moq;
using NUnit.Framework;

namespace JitBroker.Leases.Tests.Revocation;

/// <summary>The real thing: a generic host, a real Quartz scheduler and the system clock.</summary>
[TestFixture]
public sealed class RevocationHostTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);

    [Test]
    [CancelAfter(20_000)]
    public async Task The_scheduled_sweep_revokes_an_expiring_lease_and_the_host_stops_cleanly(CancellationToken testToken)
    {
        var store = new InMemoryLeaseStore();
        var issuer = FakeIssuer();
        issuer.Setup(i => i.RevokeAsync(It.IsAny<Lease>(), It.IsAny<CancellationToken>()))
            .Returns(() => ValueTask.FromResult(RevocationResult.Revoked));
        using var host = BuildHost(store, issuer.Object);

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
        using var host = BuildHost(store, issuer.Object);
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

    private static Mock<ICredentialIssuer> FakeIssuer()
    {
        var issuer = new Mock<ICredentialIssuer>();
        issuer.SetupGet(i => i.Kind).Returns("fake");
        return issuer;
    }

    private static IHost BuildHost(ILeaseStore store, ICredentialIssuer issuer)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<IRevocationQueue>(store);
        builder.Services.AddSingleton(new BrokerOptions());
        builder.Services.AddSingleton(new IssuerRegistry([issuer]));
        builder.Services.AddSingleton(new RetryBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1)));
        builder.Services.AddSingleton<LeaseRevoker>();
        builder.Services.AddJitBrokerRevocation(new RevocationOptions { SweepInterval = TimeSpan.FromMilliseconds(100) });
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
