using JitBroker.Core;
using JitBroker.Testing;
using NUnit.Framework;

namespace JitBroker.Leases.Tests;

/// <summary>The shared contract, run against the embedded store.</summary>
[TestFixture]
public sealed class InMemoryLeaseLedgerConformanceTests : LeaseLedgerConformanceTests
{
    protected override Task<ILeaseStore> CreateStoreAsync() => InMemoryStores.Create();
}

/// <summary>The shared contract, run against the embedded store.</summary>
[TestFixture]
public sealed class InMemoryRevocationQueueConformanceTests : RevocationQueueConformanceTests
{
    protected override Task<ILeaseStore> CreateStoreAsync() => InMemoryStores.Create();
}

/// <summary>The shared contract, run against the embedded store.</summary>
[TestFixture]
public sealed class InMemoryLeaseQueriesConformanceTests : LeaseQueriesConformanceTests
{
    protected override Task<ILeaseStore> CreateStoreAsync() => InMemoryStores.Create();
}

/// <summary>The shared contract, run against the embedded store.</summary>
[TestFixture]
public sealed class InMemoryRevocationScheduleConformanceTests : RevocationScheduleConformanceTests
{
    protected override Task<ILeaseStore> CreateStoreAsync() => InMemoryStores.Create();
}

/// <summary>The shared contract, run against the embedded store.</summary>
[TestFixture]
public sealed class InMemoryRevocationOutboxConformanceTests : RevocationOutboxConformanceTests
{
    protected override Task<ILeaseStore> CreateStoreAsync() => InMemoryStores.Create();
}

internal static class InMemoryStores
{
    public static Task<ILeaseStore> Create() => Task.FromResult<ILeaseStore>(new InMemoryLeaseStore());
}

/// <summary>What only the embedded store promises: memory bounds and its own argument checks.</summary>
[TestFixture]
public sealed class InMemoryLeaseStoreTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan ClaimTimeout = TimeSpan.FromSeconds(30);

    private static Lease NewLease(string leaseId, TimeSpan expiresIn, string taskId = "task-1") => new()
    {
        LeaseId = leaseId,
        TaskId = taskId,
        AgentId = "spiffe://dev.local/agent/a",
        IssuerKind = "fake",
        BackendHandle = "jti-" + leaseId,
        Scope = new GrantedScope("aud", "read", [], []),
        IssuedAt = T0,
        ExpiresAt = T0 + expiresIn,
        CredentialFingerprint = "sha256:00",
    };

    [Test]
    public async Task Revoked_leases_are_forgotten_once_the_retention_after_expiry_has_passed()
    {
        var store = new InMemoryLeaseStore();
        await store.PutAsync(NewLease("lease-revoked", TimeSpan.FromMinutes(5)));
        await store.PutAsync(NewLease("lease-active", TimeSpan.FromHours(3)));
        await store.MarkOneRevokedAsync("lease-revoked", T0 + TimeSpan.FromMinutes(1));
        var forgetAt = T0 + TimeSpan.FromMinutes(5) + InMemoryLeaseStore.DefaultRevokedRetention;

        await store.ClaimDueAsync(forgetAt - TimeSpan.FromMilliseconds(1), 10, ClaimTimeout);
        Assert.That(store.Count, Is.EqualTo(2), "kept until the retention has passed, so EndTask can still say 'already revoked'");
        Assert.That(await store.GetAsync("lease-revoked"), Is.Not.Null);

        await store.ClaimDueAsync(forgetAt, 10, ClaimTimeout);
        Assert.That(store.Count, Is.EqualTo(1));
        Assert.That(await store.GetAsync("lease-revoked"), Is.Null);
        Assert.That(await store.ListByTaskAsync("spiffe://dev.local/agent/a", "task-1"), Has.Count.EqualTo(1));
        Assert.That(await store.GetAsync("lease-active"), Is.Not.Null);
    }

    [Test]
    public async Task A_lease_revoked_after_a_long_failure_stays_visible_for_the_retention_after_its_revocation()
    {
        var store = new InMemoryLeaseStore(TimeSpan.FromMinutes(10));
        await store.PutAsync(NewLease("lease-stubborn", TimeSpan.FromMinutes(1)));
        var revokedAt = T0 + TimeSpan.FromHours(2);
        await store.MarkOneRevokedAsync("lease-stubborn", revokedAt);

        await store.ClaimDueAsync(revokedAt + TimeSpan.FromMinutes(9), 10, ClaimTimeout);
        Assert.That(store.Count, Is.EqualTo(1));
        await store.ClaimDueAsync(revokedAt + TimeSpan.FromMinutes(10), 10, ClaimTimeout);
        Assert.That(store.Count, Is.Zero);
    }

    [Test]
    public async Task Unrevoked_leases_are_never_forgotten_however_old()
    {
        var store = new InMemoryLeaseStore(TimeSpan.Zero);
        await store.PutAsync(NewLease("lease-failing", TimeSpan.FromMinutes(1)));
        await store.MarkRevokeFailedAsync("lease-failing", "down", T0 + TimeSpan.FromDays(30));

        await store.ClaimDueAsync(T0 + TimeSpan.FromDays(7), 10, ClaimTimeout);

        Assert.That((await store.GetAsync("lease-failing"))?.State, Is.EqualTo(LeaseState.RevokeFailed));
    }

    [Test]
    public async Task Count_tracks_records()
    {
        var store = new InMemoryLeaseStore();
        Assert.That(store.Count, Is.Zero);
        await store.PutAsync(NewLease("lease-1", TimeSpan.FromMinutes(1)));
        await store.PutAsync(NewLease("lease-2", TimeSpan.FromMinutes(1)));
        Assert.That(store.Count, Is.EqualTo(2));
    }

    [Test]
    public async Task A_stored_copy_is_unaffected_by_later_changes()
    {
        var store = new InMemoryLeaseStore();
        await store.PutAsync(NewLease("lease-1", TimeSpan.FromMinutes(1)));
        var before = await store.GetAsync("lease-1");

        await store.MarkRevokeFailedAsync("lease-1", "down", T0 + TimeSpan.FromMinutes(2));

        Assert.That((before!.State, before.Attempts), Is.EqualTo((LeaseState.Active, 0)));
    }

    [Test]
    public async Task The_store_keeps_its_own_copy_of_the_callers_lists()
    {
        var store = new InMemoryLeaseStore();
        var tools = new List<string> { "git.clone" };
        var ruleIds = new List<string> { "rule-1" };
        var lease = NewLease("lease-1", TimeSpan.FromMinutes(1)) with { Scope = new GrantedScope("aud", "read", tools, []), RuleIds = ruleIds };
        await store.PutAsync(lease);

        tools.Add("git.push");
        ruleIds.Clear();

        var stored = await store.GetAsync("lease-1");
        Assert.That((stored!.Scope.Tools, stored.RuleIds), Is.EqualTo((new[] { "git.clone" }, new[] { "rule-1" })));
    }

    [Test]
    public void Put_refuses_a_lease_that_is_not_active()
    {
        var store = new InMemoryLeaseStore();
        var revoked = NewLease("lease-1", TimeSpan.FromMinutes(1)) with { State = LeaseState.Revoked };

        Assert.ThrowsAsync<ArgumentException>(() => store.PutAsync(revoked));
        Assert.That(store.Count, Is.Zero);
    }

    [Test]
    public void Claim_due_refuses_nonsense_arguments()
    {
        var store = new InMemoryLeaseStore();
        Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => store.ClaimDueAsync(T0, 0, ClaimTimeout));
        Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => store.ClaimDueAsync(T0, 10, TimeSpan.Zero));
    }

    [Test]
    public void A_cancelled_call_changes_nothing()
    {
        var store = new InMemoryLeaseStore();
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        Assert.ThrowsAsync<OperationCanceledException>(() => store.PutAsync(NewLease("lease-1", TimeSpan.FromMinutes(1)), cancelled.Token));
        Assert.That(store.Count, Is.Zero);
    }
}
