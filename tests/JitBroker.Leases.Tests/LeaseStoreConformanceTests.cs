using System.Collections.Concurrent;
using JitBroker.Core;
using NUnit.Framework;

namespace JitBroker.Leases.Tests;

/// <summary>
/// The contract of <see cref="ILeaseStore"/>, run against every implementation: subclass it and return a
/// fresh, empty store from <see cref="CreateStoreAsync"/>. Nothing here knows which store it is testing.
/// Times are whole milliseconds in UTC so stores that keep millisecond scores round-trip them exactly.
/// </summary>
public abstract partial class LeaseStoreConformanceTests
{
    protected static readonly DateTimeOffset T0 = new(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);
    protected static readonly TimeSpan ClaimTimeout = TimeSpan.FromSeconds(30);

    private ILeaseStore? _store;

    protected ILeaseStore Store => _store ?? throw new InvalidOperationException("SetUp did not run.");

    /// <summary>Returns a new store holding no leases; called before every test.</summary>
    protected abstract Task<ILeaseStore> CreateStoreAsync();

    /// <summary>Releases a store after its test. Disposes it when it is disposable; override to also clear shared state.</summary>
    protected virtual async Task DestroyStoreAsync(ILeaseStore store)
    {
        switch (store)
        {
            case IAsyncDisposable asyncDisposable:
                await asyncDisposable.DisposeAsync();
                break;
            case IDisposable disposable:
                disposable.Dispose();
                break;
        }
    }

    [SetUp]
    public async Task CreateStore() => _store = await CreateStoreAsync();

    [TearDown]
    public async Task DestroyStore()
    {
        if (_store is not null)
        {
            await DestroyStoreAsync(_store);
            _store = null;
        }
    }

    /// <summary>
    /// A lease; with <paramref name="parentLeaseId"/> a delegated one whose id is placed with its parent's, as the broker
    /// places it (<see cref="LeaseIds.PlacementOf"/>): a sharded store keeps a delegation tree in one bucket.
    /// </summary>
    protected static Lease NewLease(TimeSpan expiresIn, string agentId = "spiffe://dev.local/agent/a", string taskId = "task-1", string? leaseId = null,
        string? parentLeaseId = null) => new()
    {
        LeaseId = leaseId ?? (parentLeaseId is null ? "lease-" + Guid.NewGuid().ToString("N") : LeaseIds.New(LeaseIds.PlacementOf(parentLeaseId))),
        ParentLeaseId = parentLeaseId,
        TaskId = taskId,
        AgentId = agentId,
        IssuerKind = "fake",
        BackendHandle = "handle-" + Guid.NewGuid().ToString("N"),
        Scope = new GrantedScope("https://tools.example/repo", "read", ["git.clone", "git.fetch"], ["repo:acme/app"]),
        IssuedAt = T0,
        ExpiresAt = T0 + expiresIn,
        DueAt = T0 + expiresIn,
        CredentialFingerprint = "sha256:" + new string('a', 64),
    };

    private async Task<Lease> PutAsync(TimeSpan expiresIn, string agentId = "spiffe://dev.local/agent/a", string taskId = "task-1")
    {
        var lease = NewLease(expiresIn, agentId, taskId);
        await Store.PutAsync(lease);
        return lease;
    }

    private async Task<Lease> GetAsync(string leaseId) =>
        await Store.GetAsync(leaseId) ?? throw new AssertionException($"Lease {leaseId} is missing.");

    private static string[] Ids(IEnumerable<Lease> leases) => [.. leases.Select(l => l.LeaseId)];

    [Test]
    public async Task Put_then_get_round_trips_every_field()
    {
        var parent = NewLease(TimeSpan.FromMinutes(10));
        await Store.PutAsync(parent);
        var lease = NewLease(TimeSpan.FromMinutes(5), parentLeaseId: parent.LeaseId) with
        {
            RuleIds = ["rule-read-repo", "rule-default-ttl"],
            DueAt = null,
        };

        await Store.PutAsync(lease);
        var stored = await GetAsync(lease.LeaseId);

        Assert.Multiple(() =>
        {
            Assert.That(stored.LeaseId, Is.EqualTo(lease.LeaseId));
            Assert.That(stored.TaskId, Is.EqualTo(lease.TaskId));
            Assert.That(stored.AgentId, Is.EqualTo(lease.AgentId));
            Assert.That(stored.ParentLeaseId, Is.EqualTo(parent.LeaseId));
            Assert.That(stored.IssuerKind, Is.EqualTo(lease.IssuerKind));
            Assert.That(stored.BackendHandle, Is.EqualTo(lease.BackendHandle));
            Assert.That(stored.Scope.Audience, Is.EqualTo(lease.Scope.Audience));
            Assert.That(stored.Scope.Action, Is.EqualTo(lease.Scope.Action));
            Assert.That(stored.Scope.Tools, Is.EqualTo(new[] { "git.clone", "git.fetch" }));
            Assert.That(stored.Scope.Resources, Is.EqualTo(new[] { "repo:acme/app" }));
            Assert.That(stored.IssuedAt, Is.EqualTo(lease.IssuedAt));
            Assert.That(stored.ExpiresAt, Is.EqualTo(lease.ExpiresAt));
            Assert.That(stored.State, Is.EqualTo(LeaseState.Active));
            Assert.That(stored.Attempts, Is.Zero);
            Assert.That(stored.LastError, Is.Null);
            Assert.That(stored.RevokedAt, Is.Null);
            Assert.That(stored.DueAt, Is.EqualTo(lease.ExpiresAt), "a new lease is due at its expiry");
            Assert.That(stored.RuleIds, Is.EqualTo(new[] { "rule-read-repo", "rule-default-ttl" }));
            Assert.That(stored.CredentialFingerprint, Is.EqualTo(lease.CredentialFingerprint));
        });
    }

    [Test]
    public async Task Put_then_get_round_trips_the_decided_intent_whatever_its_text()
    {
        // Free text: separators, digits before a colon, non-ASCII and an empty value must all come back as they went in.
        var lease = NewLease(TimeSpan.FromMinutes(5)) with
        {
            DecidedIntent = new DecidedIntent
            {
                Purpose = "12:fix\u001fbuild — ticket #42",
                Context = new Dictionary<string, string> { ["risk"] = "3:low", ["ticket"] = "", ["env"] = "prod\u001f" },
            },
        };

        await Store.PutAsync(lease);
        var stored = await GetAsync(lease.LeaseId);

        Assert.That(stored.DecidedIntent.Purpose, Is.EqualTo("12:fix\u001fbuild — ticket #42"));
        Assert.That(stored.DecidedIntent.Context, Is.EquivalentTo(lease.DecidedIntent.Context));
    }

    [Test]
    public async Task A_lease_recorded_without_a_decided_intent_reads_back_with_none()
    {
        var lease = NewLease(TimeSpan.FromMinutes(5));

        await Store.PutAsync(lease);
        var stored = await GetAsync(lease.LeaseId);

        Assert.That(stored.DecidedIntent.IsEmpty, Is.True);
        Assert.That(DecidedIntent.Of(stored).Purpose, Is.Empty, "judged with no purpose, as before leases kept it");
    }

    [Test]
    public async Task The_decided_intent_survives_claims_failures_and_renewal()
    {
        var lease = NewLease(TimeSpan.FromMinutes(5)) with { DecidedIntent = new DecidedIntent { Purpose = "triage", Context = new Dictionary<string, string> { ["risk"] = "2" } } };
        await Store.PutAsync(lease);

        var renewed = await Store.RenewAsync(lease.LeaseId, lease.ExpiresAt + TimeSpan.FromMinutes(1), lease.CredentialFingerprint);
        var claimed = await Store.TryClaimAsync(lease.LeaseId, T0, ClaimTimeout);
        await Store.MarkRevokeFailedAsync(lease.LeaseId, "backend down", T0 + TimeSpan.FromMinutes(1));
        var failed = await GetAsync(lease.LeaseId);

        foreach (var seen in new[] { renewed!, claimed!, failed })
        {
            Assert.That((seen.DecidedIntent.Purpose, seen.DecidedIntent.Context["risk"]), Is.EqualTo(("triage", "2")));
        }
    }

    [Test]
    public async Task Get_of_an_unknown_lease_is_null() =>
        Assert.That(await Store.GetAsync("lease-never-stored"), Is.Null);

    [Test]
    public async Task Put_of_an_existing_lease_id_is_refused_and_keeps_the_original()
    {
        var original = await PutAsync(TimeSpan.FromMinutes(5));
        var impostor = NewLease(TimeSpan.FromMinutes(10), agentId: "spiffe://dev.local/agent/b", leaseId: original.LeaseId);

        Assert.ThrowsAsync<InvalidOperationException>(() => Store.PutAsync(impostor));
        var stored = await GetAsync(original.LeaseId);
        Assert.That((stored.AgentId, stored.ExpiresAt), Is.EqualTo((original.AgentId, original.ExpiresAt)));
    }

    [Test]
    public async Task List_by_task_returns_only_that_agents_leases_of_that_task_in_any_state()
    {
        var first = await PutAsync(TimeSpan.FromMinutes(5), "spiffe://dev.local/agent/a", "task-1");
        var second = await PutAsync(TimeSpan.FromMinutes(6), "spiffe://dev.local/agent/a", "task-1");
        await PutAsync(TimeSpan.FromMinutes(5), "spiffe://dev.local/agent/b", "task-1");
        await PutAsync(TimeSpan.FromMinutes(5), "spiffe://dev.local/agent/a", "task-2");
        await Store.MarkRevokedAsync(second.LeaseId, T0);

        var leases = await Store.ListByTaskAsync("spiffe://dev.local/agent/a", "task-1");

        Assert.That(Ids(leases), Is.EquivalentTo(new[] { first.LeaseId, second.LeaseId }));
        Assert.That(await Store.ListByTaskAsync("spiffe://dev.local/agent/c", "task-1"), Is.Empty);
    }

    [Test]
    public async Task Claim_due_takes_only_due_leases_in_due_order_and_respects_max()
    {
        // Stored out of order, so an implementation that returns insertion order fails.
        var bySecond = new Dictionary<int, Lease>();
        foreach (var second in new[] { 4, 1, 5, 3, 2 })
        {
            bySecond[second] = await PutAsync(TimeSpan.FromSeconds(second));
        }

        var notDue = await PutAsync(TimeSpan.FromMinutes(10));
        var now = T0 + TimeSpan.FromSeconds(10);

        var firstBatch = await Store.ClaimDueAsync(now, 3, ClaimTimeout);
        var secondBatch = await Store.ClaimDueAsync(now, 10, ClaimTimeout);

        Assert.That(Ids(firstBatch), Is.EqualTo(new[] { bySecond[1].LeaseId, bySecond[2].LeaseId, bySecond[3].LeaseId }));
        Assert.That(Ids(secondBatch), Is.EqualTo(new[] { bySecond[4].LeaseId, bySecond[5].LeaseId }));
        Assert.That((await GetAsync(notDue.LeaseId)).State, Is.EqualTo(LeaseState.Active));
    }

    [Test]
    public async Task Claim_marks_revoking_moves_due_to_now_plus_timeout_and_a_second_claim_gets_nothing()
    {
        var lease = await PutAsync(TimeSpan.FromSeconds(1));
        var now = T0 + TimeSpan.FromSeconds(2);

        var claimed = await Store.ClaimDueAsync(now, 10, ClaimTimeout);
        var again = await Store.ClaimDueAsync(now, 10, ClaimTimeout);

        Assert.That(claimed, Has.Count.EqualTo(1));
        Assert.That((claimed[0].State, claimed[0].DueAt), Is.EqualTo((LeaseState.Revoking, (DateTimeOffset?)(now + ClaimTimeout))));
        var stored = await GetAsync(lease.LeaseId);
        Assert.That((stored.State, stored.DueAt), Is.EqualTo((LeaseState.Revoking, (DateTimeOffset?)(now + ClaimTimeout))));
        Assert.That(again, Is.Empty);
        Assert.That(await Store.NextDueAsync(), Is.EqualTo(now + ClaimTimeout));
    }

    [Test]
    public async Task A_lapsed_claim_is_claimed_again_after_its_deadline()
    {
        // The first claimer is a replica that died: it never marks the lease revoked or failed.
        var lease = await PutAsync(TimeSpan.FromSeconds(1));
        var claimedAt = T0 + TimeSpan.FromSeconds(1);
        await Store.ClaimDueAsync(claimedAt, 10, ClaimTimeout);

        var beforeDeadline = await Store.ClaimDueAsync(claimedAt + ClaimTimeout - TimeSpan.FromMilliseconds(1), 10, ClaimTimeout);
        var atDeadline = await Store.ClaimDueAsync(claimedAt + ClaimTimeout, 10, ClaimTimeout);

        Assert.That(beforeDeadline, Is.Empty);
        Assert.That(Ids(atDeadline), Is.EqualTo(new[] { lease.LeaseId }));
        Assert.That(atDeadline[0].DueAt, Is.EqualTo(claimedAt + ClaimTimeout + ClaimTimeout));
    }

    [Test]
    public async Task Concurrent_claimers_never_claim_the_same_lease_twice()
    {
        const int leaseCount = 800;
        var expected = new List<string>();
        for (var i = 0; i < leaseCount; i++)
        {
            expected.Add((await PutAsync(TimeSpan.FromMilliseconds(i + 1))).LeaseId);
        }

        var claims = new ConcurrentBag<string>();
        var now = T0 + TimeSpan.FromHours(1);
        var claimers = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            // Bounded, so a store that hands out the same leases forever fails instead of hanging.
            for (var round = 0; round <= leaseCount; round++)
            {
                var batch = await Store.ClaimDueAsync(now, 7, ClaimTimeout);
                if (batch.Count == 0)
                {
                    return;
                }

                foreach (var lease in batch)
                {
                    claims.Add(lease.LeaseId);
                }
            }
        }));
        await Task.WhenAll(claimers);

        Assert.That(claims, Has.Count.EqualTo(leaseCount), "a lease claimed twice shows up as an extra entry");
        Assert.That(claims, Is.EquivalentTo(expected));
    }

    [Test]
    public async Task Claim_due_takes_failed_leases_once_their_retry_time_came()
    {
        var lease = await PutAsync(TimeSpan.FromSeconds(1));
        var now = T0 + TimeSpan.FromSeconds(1);
        await Store.ClaimDueAsync(now, 10, ClaimTimeout);
        await Store.MarkRevokeFailedAsync(lease.LeaseId, "backend unavailable", now + TimeSpan.FromSeconds(4));

        var early = await Store.ClaimDueAsync(now + TimeSpan.FromSeconds(3), 10, ClaimTimeout);
        var due = await Store.ClaimDueAsync(now + TimeSpan.FromSeconds(4), 10, ClaimTimeout);

        Assert.That(early, Is.Empty);
        Assert.That(Ids(due), Is.EqualTo(new[] { lease.LeaseId }));
        Assert.That((due[0].State, due[0].Attempts, due[0].LastError), Is.EqualTo((LeaseState.Revoking, 1, "backend unavailable")));
    }

    [Test]
    public async Task Try_claim_takes_an_unexpired_lease_whatever_its_due_time()
    {
        var lease = await PutAsync(TimeSpan.FromMinutes(5));
        var now = T0 + TimeSpan.FromSeconds(1);

        var claimed = await Store.TryClaimAsync(lease.LeaseId, now, ClaimTimeout);

        Assert.That(claimed, Is.Not.Null);
        Assert.That((claimed!.State, claimed.DueAt), Is.EqualTo((LeaseState.Revoking, (DateTimeOffset?)(now + ClaimTimeout))));
        Assert.That((await GetAsync(lease.LeaseId)).State, Is.EqualTo(LeaseState.Revoking));
        Assert.That(await Store.ClaimDueAsync(now, 10, ClaimTimeout), Is.Empty, "claimed by EndTask, so not due for the sweeper");
    }

    [Test]
    public async Task Try_claim_takes_a_failed_lease_and_keeps_its_attempts()
    {
        var lease = await PutAsync(TimeSpan.FromMinutes(5));
        await Store.MarkRevokeFailedAsync(lease.LeaseId, "vault 502", T0 + TimeSpan.FromMinutes(1));

        var claimed = await Store.TryClaimAsync(lease.LeaseId, T0, ClaimTimeout);

        Assert.That((claimed?.State, claimed?.Attempts), Is.EqualTo(((LeaseState?)LeaseState.Revoking, (int?)1)));
    }

    [Test]
    public async Task Try_claim_of_a_revoked_or_missing_lease_is_null()
    {
        var lease = await PutAsync(TimeSpan.FromMinutes(5));
        await Store.MarkRevokedAsync(lease.LeaseId, T0);

        Assert.That(await Store.TryClaimAsync(lease.LeaseId, T0, ClaimTimeout), Is.Null);
        Assert.That(await Store.TryClaimAsync("lease-never-stored", T0, ClaimTimeout), Is.Null);
        Assert.That((await GetAsync(lease.LeaseId)).State, Is.EqualTo(LeaseState.Revoked));
    }

    [Test]
    public async Task Mark_revoked_drops_the_lease_from_the_schedule_and_is_idempotent()
    {
        var lease = await PutAsync(TimeSpan.FromSeconds(1));
        var revokedAt = T0 + TimeSpan.FromMilliseconds(500);

        await Store.MarkRevokedAsync(lease.LeaseId, revokedAt);
        await Store.MarkRevokedAsync(lease.LeaseId, revokedAt + TimeSpan.FromMinutes(1));
        await Store.MarkRevokedAsync("lease-never-stored", revokedAt);

        var stored = await GetAsync(lease.LeaseId);
        Assert.That((stored.State, stored.RevokedAt, stored.DueAt), Is.EqualTo((LeaseState.Revoked, (DateTimeOffset?)revokedAt, (DateTimeOffset?)null)));
        Assert.That(stored.IsLiveAt(revokedAt), Is.False);
        Assert.That(await Store.NextDueAsync(), Is.Null);
        Assert.That(await Store.ClaimDueAsync(T0 + TimeSpan.FromMinutes(5), 10, ClaimTimeout), Is.Empty);
    }

    [Test]
    public async Task Mark_revoke_failed_counts_attempts_keeps_the_error_and_reschedules()
    {
        var lease = await PutAsync(TimeSpan.FromSeconds(1));
        var firstRetry = T0 + TimeSpan.FromSeconds(2);
        var secondRetry = T0 + TimeSpan.FromSeconds(6);

        await Store.MarkRevokeFailedAsync(lease.LeaseId, "vault 502", firstRetry);
        var afterFirst = await GetAsync(lease.LeaseId);
        await Store.MarkRevokeFailedAsync(lease.LeaseId, "vault 503", secondRetry);
        var afterSecond = await GetAsync(lease.LeaseId);

        Assert.That((afterFirst.State, afterFirst.Attempts, afterFirst.LastError, afterFirst.DueAt),
            Is.EqualTo((LeaseState.RevokeFailed, 1, "vault 502", (DateTimeOffset?)firstRetry)));
        Assert.That((afterSecond.State, afterSecond.Attempts, afterSecond.LastError, afterSecond.DueAt),
            Is.EqualTo((LeaseState.RevokeFailed, 2, "vault 503", (DateTimeOffset?)secondRetry)));
        Assert.That(await Store.NextDueAsync(), Is.EqualTo(secondRetry));
    }

    [Test]
    public async Task A_late_failure_report_does_not_put_a_revoked_lease_back_on_the_schedule()
    {
        // EndTask and the sweeper can both hold a claim on one lease; the revoked outcome must win.
        var lease = await PutAsync(TimeSpan.FromSeconds(1));
        await Store.MarkRevokedAsync(lease.LeaseId, T0);

        await Store.MarkRevokeFailedAsync(lease.LeaseId, "timeout", T0 + TimeSpan.FromSeconds(5));
        await Store.MarkRevokeFailedAsync("lease-never-stored", "timeout", T0);

        Assert.That((await GetAsync(lease.LeaseId)).State, Is.EqualTo(LeaseState.Revoked));
        Assert.That(await Store.NextDueAsync(), Is.Null);
    }

    [Test]
    public async Task Next_due_is_the_earliest_due_time_or_null()
    {
        Assert.That(await Store.NextDueAsync(), Is.Null);
        var early = await PutAsync(TimeSpan.FromSeconds(30));
        var late = await PutAsync(TimeSpan.FromSeconds(90));
        Assert.That(await Store.NextDueAsync(), Is.EqualTo(early.ExpiresAt));

        await Store.MarkRevokedAsync(early.LeaseId, T0);
        Assert.That(await Store.NextDueAsync(), Is.EqualTo(late.ExpiresAt));

        await Store.MarkRevokedAsync(late.LeaseId, T0);
        Assert.That(await Store.NextDueAsync(), Is.Null);
    }

    [Test]
    public async Task List_by_state_returns_leases_in_that_state_up_to_max()
    {
        var active = new[] { await PutAsync(TimeSpan.FromMinutes(5)), await PutAsync(TimeSpan.FromMinutes(5)) };
        var failed = new List<Lease>();
        for (var i = 0; i < 3; i++)
        {
            var lease = await PutAsync(TimeSpan.FromSeconds(1));
            await Store.MarkRevokeFailedAsync(lease.LeaseId, "down", T0 + TimeSpan.FromMinutes(1));
            failed.Add(lease);
        }

        var revoked = await PutAsync(TimeSpan.FromSeconds(1));
        await Store.MarkRevokedAsync(revoked.LeaseId, T0);

        Assert.That(Ids(await Store.ListByStateAsync(LeaseState.Active, 100)), Is.EquivalentTo(Ids(active)));
        Assert.That(Ids(await Store.ListByStateAsync(LeaseState.RevokeFailed, 100)), Is.EquivalentTo(Ids(failed)));
        Assert.That(Ids(await Store.ListByStateAsync(LeaseState.Revoked, 100)), Is.EqualTo(new[] { revoked.LeaseId }));
        Assert.That(await Store.ListByStateAsync(LeaseState.Revoking, 100), Is.Empty);
        var limited = await Store.ListByStateAsync(LeaseState.RevokeFailed, 2);
        Assert.That(limited, Has.Count.EqualTo(2));
        Assert.That(Ids(limited), Is.SubsetOf(Ids(failed)));
    }
}
