using JitBroker.Core;
using NUnit.Framework;

namespace JitBroker.Leases.Tests;

/// <summary>
/// What every lease-store conformance suite shares: a fresh, empty store per test from <see cref="CreateStoreAsync"/>
/// and the helpers that set it up. One suite per part of <see cref="ILeaseStore"/> (<see cref="LeaseLedgerConformanceTests"/>,
/// <see cref="RevocationQueueConformanceTests"/>, <see cref="LeaseQueriesConformanceTests"/>) and per contract a store also
/// serves (<see cref="RevocationScheduleConformanceTests"/>, <see cref="RevocationOutboxConformanceTests"/>); each runs against
/// every implementation. Nothing here knows which store it is testing. Times are whole milliseconds in UTC so stores that
/// keep millisecond scores round-trip them exactly.
/// </summary>
public abstract class LeaseStoreSuite
{
    protected const string Rogue = "spiffe://dev.local/agent/rogue";
    protected const string Worker = "spiffe://dev.local/agent/worker";

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

    protected async Task<Lease> PutAsync(TimeSpan expiresIn, string agentId = "spiffe://dev.local/agent/a", string taskId = "task-1")
    {
        var lease = NewLease(expiresIn, agentId, taskId);
        await Store.PutAsync(lease);
        return lease;
    }

    protected async Task<Lease> GetAsync(string leaseId) =>
        await Store.GetAsync(leaseId) ?? throw new AssertionException($"Lease {leaseId} is missing.");

    protected static string[] Ids(IEnumerable<Lease> leases) => [.. leases.Select(l => l.LeaseId)];

    /// <summary>A lease of <paramref name="agent"/>, delegated from <paramref name="parent"/> when one is given.</summary>
    protected async Task<Lease> PutAsync(string agent, string task = "task-1", Lease? parent = null, TimeSpan? expiresIn = null)
    {
        var lease = NewLease(expiresIn ?? TimeSpan.FromMinutes(5), agent, task, parentLeaseId: parent?.LeaseId);
        await Store.PutAsync(lease);
        return lease;
    }

    protected async Task<Lease> PutWithIdAsync(string leaseId, TimeSpan expiresIn, string agentId = "spiffe://dev.local/agent/a", string taskId = "task-1",
        string issuerKind = "fake", string? parent = null)
    {
        var lease = NewLease(expiresIn, agentId, taskId, leaseId) with { IssuerKind = issuerKind, ParentLeaseId = parent };
        await Store.PutAsync(lease);
        return lease;
    }

    protected async Task<LeaseState> StateAsync(Lease lease) => (await Store.GetAsync(lease.LeaseId))!.State;

    /// <summary>
    /// Asserts through the schedule itself (claims, not the lease's <see cref="Lease.DueAt"/> field) that exactly
    /// <paramref name="leaseIds"/> come due at <paramref name="at"/>: none a millisecond before, all of them at it.
    /// Claims what it finds, so it ends a test.
    /// </summary>
    protected async Task AssertDueExactlyAtAsync(DateTimeOffset at, params string[] leaseIds)
    {
        Assert.That(await Store.ClaimDueAsync(at - TimeSpan.FromMilliseconds(1), 1000, ClaimTimeout), Is.Empty, $"nothing due before {at:O}");
        Assert.That(Ids(await Store.ClaimDueAsync(at, 1000, ClaimTimeout)), Is.EquivalentTo(leaseIds), $"due at {at:O}");
    }

    /// <summary>Asserts that nothing is on the schedule at all (nothing is due even a century on). Ends a test.</summary>
    protected async Task AssertNothingScheduledAsync() =>
        Assert.That(await Store.ClaimDueAsync(T0 + TimeSpan.FromDays(36_500), 1000, ClaimTimeout), Is.Empty, "nothing on the schedule");
}
