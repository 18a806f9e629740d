using System.Collections.Concurrent;
using JitBroker.Core;
using Moq;
using NUnit.Framework;

namespace JitBroker.Leases.Tests.Revocation;

/// <summary>How <see cref="LeaseRevoker.BeginRevokeClaimedManyAsync"/> starts the issuers' revocations (EndTask's ten leases).</summary>
public sealed class LeaseRevokerStartTests
{
    [Test]
    public async Task Up_to_the_limit_every_revocation_is_started_by_the_caller_before_any_is_awaited()
    {
        var h = new SweepHarness();
        var leases = new List<Lease>();
        for (var i = 0; i < 4; i++)
        {
            var put = await h.PutAsync(TimeSpan.FromMinutes(5));
            leases.Add(await h.Store.TryClaimAsync(put.LeaseId, h.Time.GetUtcNow(), TimeSpan.FromSeconds(30)) ?? throw new InvalidOperationException("not claimed"));
        }

        var calledOn = new ConcurrentBag<int>();
        var answer = new TaskCompletionSource<RevocationResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        h.Issuer.Setup(i => i.RevokeAsync(It.IsAny<Lease>(), It.IsAny<CancellationToken>()))
            .Returns(() =>
            {
                calledOn.Add(Environment.CurrentManagedThreadId);
                return new ValueTask<RevocationResult>(answer.Task);
            });

        var caller = Environment.CurrentManagedThreadId;
        var revoking = h.Revoker.BeginRevokeClaimedManyAsync(leases, parallelism: 4);

        // All four are in flight before the call hands back its task, each started on the caller's thread: an issuer
        // that answers at once costs no thread-pool hop per lease (Parallel.ForEachAsync queued one worker per lease).
        Assert.That(calledOn, Has.Count.EqualTo(4));
        Assert.That(calledOn, Is.All.EqualTo(caller));
        answer.SetResult(RevocationResult.Revoked);
        var revoked = await revoking;
        Assert.That(revoked.Results.Select(r => r.IsDone), Is.All.True);
        Assert.That((await h.GetAsync(leases[0].LeaseId)).State, Is.EqualTo(LeaseState.Revoked));
    }
}
