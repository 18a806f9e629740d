using System.Collections.Concurrent;
using JitBroker.Core;
using JitBroker.Leases;
using JitBroker.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;

namespace JitBroker.Core.Tests;

/// <summary>
/// Issue 15 item 5: a replica that marks leases revoked and dies before writing their <c>lease.revoked</c> records owes
/// them; its outbox entries make another replica (or itself, restarted) write exactly the missing ones.
/// </summary>
[FixtureLifeCycle(LifeCycle.InstancePerTestCase)]
public sealed class UnauditedRevocationRecoveryTests
{
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(30);
    private readonly InMemoryLeaseStore _ledger = new();
    private readonly Chains _chains = new();
    private readonly Microsoft.Extensions.Time.Testing.FakeTimeProvider _time = TestClock.Create();

    [Test]
    public async Task A_dead_replicas_missing_records_are_written_once_by_another_after_its_heartbeat_and_the_grace_lapse()
    {
        var leases = await MarkedByAsync("replica-a", 6);
        // A recorded the first two before it died; the last four are owed.
        _chains.Of("replica-a").Record(leases[0]);
        _chains.Of("replica-a").Record(leases[1]);
        await _ledger.HeartbeatAsync("replica-a", TimeSpan.FromMilliseconds(200));
        var b = Recovery("replica-b");

        _time.Advance(Grace + TimeSpan.FromSeconds(1));
        Assert.That(await b.RunOnceAsync(), Is.Zero, "A's heartbeat is still live: its outbox is A's to work");

        await Task.Delay(TimeSpan.FromMilliseconds(400));
        Assert.That(await b.RunOnceAsync(), Is.EqualTo(4));
        Assert.That(_chains.Of("replica-b").RevokedIds, Is.EquivalentTo(leases.Skip(2).Select(l => l.LeaseId)), "exactly the owed records, in B's chain");
        Assert.That(_chains.Of("replica-b").Events.All(e => e.AgentId == Agent && e.Detail!.Contains("replica-a", StringComparison.Ordinal)), Is.True,
            "the recovered record names the lease's agent and the replica that revoked it");
        Assert.That(await _ledger.ListUnauditedOwnersAsync(), Is.Empty, "every entry acknowledged");
        Assert.That(await b.RunOnceAsync(), Is.Zero, "nothing is written twice");
    }

    [Test]
    public async Task Entries_younger_than_the_grace_are_left_to_their_writer()
    {
        await MarkedByAsync("replica-a", 3);
        var b = Recovery("replica-b");
        _time.Advance(Grace - TimeSpan.FromSeconds(1));
        Assert.That(await b.RunOnceAsync(), Is.Zero);
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.That(await b.RunOnceAsync(), Is.EqualTo(3));
    }

    [Test]
    public async Task A_second_recoverer_searches_the_first_recoverers_chain_too()
    {
        var leases = await MarkedByAsync("replica-a", 4);
        // B began recovering A's outbox, wrote two records, and died before acknowledging anything.
        Assert.That(await _ledger.BeginRecoveryAsync("replica-a", "replica-b", TimeSpan.FromMilliseconds(100)), Is.Not.Null);
        _chains.Of("replica-b").Record(leases[0]);
        _chains.Of("replica-b").Record(leases[1]);
        await Task.Delay(TimeSpan.FromMilliseconds(300));

        _time.Advance(Grace + TimeSpan.FromSeconds(1));
        Assert.That(await Recovery("replica-c").RunOnceAsync(), Is.EqualTo(2));
        Assert.That(_chains.Of("replica-c").RevokedIds, Is.EquivalentTo(new[] { leases[2].LeaseId, leases[3].LeaseId }));
    }

    [Test]
    public async Task A_restarted_replica_writes_what_its_previous_life_owed_but_not_what_it_is_writing_now()
    {
        var previousLife = await MarkedByAsync("replica-a", 3);
        _chains.Of("replica-a").Record(previousLife[0]);
        _time.Advance(TimeSpan.FromSeconds(1));

        // The restarted replica: a trail whose audit log never completes, so what it marks now stays in flight.
        var stuck = new StuckAuditLog();
        await using var trail = new RevocationAuditTrail(stuck, NullLogger<RevocationAuditTrail>.Instance, _ledger, "replica-a");
        var recovery = new UnauditedRevocationRecovery(_ledger, _chains, _ledger, _chains.Of("replica-a"), trail, _time,
            NullLogger<UnauditedRevocationRecovery>.Instance, TimeSpan.FromSeconds(90), Grace);
        _time.Advance(TimeSpan.FromSeconds(1));
        var current = await MarkedByAsync("replica-a", 1);
        _ = await trail.BeginRevokedAsync(current[0], "Revoked");

        Assert.That(await recovery.RunOnceAsync(), Is.EqualTo(2), "no grace for its own previous life");
        Assert.That(_chains.Of("replica-a").RevokedIds, Is.EquivalentTo(previousLife.Select(l => l.LeaseId)));

        _time.Advance(Grace + TimeSpan.FromSeconds(1));
        Assert.That(await recovery.RunOnceAsync(), Is.Zero, "a record still being written is not written again, however old");
        Assert.That((await _ledger.ListUnauditedAsync("replica-a", _time.GetUtcNow(), 10)).Select(e => e.LeaseId), Is.EqualTo(new[] { current[0].LeaseId }));
    }

    [Test]
    public async Task The_trail_acknowledges_what_it_recorded_and_leaves_what_it_could_not_record_in_the_outbox()
    {
        var leases = await MarkedByAsync("replica-a", 2);
        var log = _chains.Of("replica-a");
        await using (var trail = new RevocationAuditTrail(log, NullLogger<RevocationAuditTrail>.Instance, _ledger, "replica-a"))
        {
            await await trail.BeginRevokedAsync(leases[0], "Revoked");
            log.Fail = true;
            await await trail.BeginRevokedAsync(leases[1], "Revoked");
        }

        Assert.That((await _ledger.ListUnauditedAsync("replica-a", _time.GetUtcNow() + TimeSpan.FromDays(1), 10)).Select(e => e.LeaseId),
            Is.EqualTo(new[] { leases[1].LeaseId }), "the recorded one acknowledged (on dispose at the latest), the failed one owed");
    }

    [Test]
    public async Task Records_written_with_a_summary_are_acknowledged_when_stored_and_stay_owed_when_not()
    {
        var leases = await MarkedByAsync("replica-a", 3);
        var log = _chains.Of("replica-a");
        var summary = new AuditEvent { Type = AuditEventTypes.TaskEnded, AgentId = Agent, TaskId = "task-0", Detail = "2 revoked" };
        await using (var trail = new RevocationAuditTrail(log, NullLogger<RevocationAuditTrail>.Instance, _ledger, "replica-a"))
        {
            await trail.WriteTogetherAsync([(leases[0], "Revoked"), (leases[1], "Revoked")], summary);
            Assert.That(log.Events.Select(e => (e.Type, e.LeaseId)), Is.EqualTo(new[]
            {
                (AuditEventTypes.LeaseRevoked, leases[0].LeaseId), (AuditEventTypes.LeaseRevoked, leases[1].LeaseId), (AuditEventTypes.TaskEnded, (string?)null),
            }), "the leases' records in order, then the summary");
            Assert.That(trail.HasRecorded(leases[1].LeaseId) && !trail.IsPending(leases[1].LeaseId), Is.True);

            log.Fail = true;
            Assert.DoesNotThrowAsync(() => trail.WriteTogetherAsync([(leases[2], "Revoked")], summary with { TaskId = "task-2" }),
                "a failed write is logged, never thrown: the revocation stands");
            Assert.That(trail.HasRecorded(leases[2].LeaseId) || trail.IsPending(leases[2].LeaseId), Is.False, "left to recovery, not claimed");
        }

        Assert.That((await _ledger.ListUnauditedAsync("replica-a", _time.GetUtcNow() + TimeSpan.FromDays(1), 10)).Select(e => e.LeaseId),
            Is.EqualTo(new[] { leases[2].LeaseId }), "the two stored acknowledged, the failed one owed");
    }

    [Test]
    public async Task A_lease_already_recorded_gets_no_second_record_when_written_with_a_summary()
    {
        var leases = await MarkedByAsync("replica-a", 2);
        var file = new Chain();
        await using var trail = new RevocationAuditTrail(file, NullLogger<RevocationAuditTrail>.Instance, _ledger, "replica-a");
        await await trail.BeginRevokedAsync(leases[0], "Revoked");

        await trail.WriteTogetherAsync([(leases[0], "Revoked"), (leases[1], "Revoked")], new AuditEvent { Type = AuditEventTypes.TaskEnded, TaskId = "task-0" });

        Assert.That(file.RevokedIds, Is.EqualTo(new[] { leases[0].LeaseId, leases[1].LeaseId }), "one lease.revoked per lease");
        Assert.That(file.Events.Last().Type, Is.EqualTo(AuditEventTypes.TaskEnded));
    }

    [Test]
    public async Task A_record_whose_acknowledgement_and_index_entry_a_failover_lost_is_not_written_again()
    {
        // A Redis failover can drop what the old primary acknowledged without a replica: here the outbox
        // acknowledgement (dropped) and the record's entry in the audit mirror (the index never sees the record).
        var leases = await MarkedByAsync("replica-a", 2);
        var file = new Chain();
        var lostAcks = new Moq.Mock<IRevocationOutbox>();
        await using var trail = new RevocationAuditTrail(file, NullLogger<RevocationAuditTrail>.Instance, lostAcks.Object, "replica-a");
        var recovery = new UnauditedRevocationRecovery(_ledger, _chains, _ledger, file, trail, _time,
            NullLogger<UnauditedRevocationRecovery>.Instance, TimeSpan.FromSeconds(90), Grace);
        await await trail.BeginRevokedAsync(leases[0], "Revoked");

        _time.Advance(Grace + TimeSpan.FromSeconds(1));
        Assert.That(await recovery.RunOnceAsync(), Is.EqualTo(1), "only the record never written is recovered");
        Assert.That(file.RevokedIds, Is.EquivalentTo(leases.Select(l => l.LeaseId)), "one lease.revoked per lease");
        Assert.That(await _ledger.ListUnauditedOwnersAsync(), Is.Empty, "both entries acknowledged");
    }

    [Test]
    public async Task A_lease_marked_again_after_its_record_was_written_gets_no_second_record()
    {
        // The failover lost the revoked mark: the sweeper revokes the lease again and the trail sees it a second time.
        var leases = await MarkedByAsync("replica-a", 1);
        var file = new Chain();
        await using var trail = new RevocationAuditTrail(file, NullLogger<RevocationAuditTrail>.Instance, _ledger, "replica-a");

        await await trail.BeginRevokedAsync(leases[0], "Revoked");
        await await trail.BeginRevokedAsync(leases[0], "Revoked");

        Assert.That(file.RevokedIds, Is.EqualTo(new[] { leases[0].LeaseId }));
        Assert.That(trail.HasRecorded(leases[0].LeaseId), Is.True);
    }

    [Test]
    public async Task A_record_that_failed_is_written_by_the_next_recovery_pass()
    {
        var leases = await MarkedByAsync("replica-a", 1);
        var file = new Chain { Fail = true };
        await using var trail = new RevocationAuditTrail(file, NullLogger<RevocationAuditTrail>.Instance, _ledger, "replica-a");
        var recovery = new UnauditedRevocationRecovery(_ledger, _chains, _ledger, file, trail, _time,
            NullLogger<UnauditedRevocationRecovery>.Instance, TimeSpan.FromSeconds(90), Grace);
        await await trail.BeginRevokedAsync(leases[0], "Revoked");
        _time.Advance(Grace + TimeSpan.FromSeconds(1));
        Assert.ThrowsAsync<BrokerException>(() => recovery.RunOnceAsync(), "the audit log is still down");

        file.Fail = false;
        Assert.That(await recovery.RunOnceAsync(), Is.EqualTo(1), "a failed write leaves its record owed, by the trail and by recovery");
        Assert.That(file.RevokedIds, Is.EqualTo(new[] { leases[0].LeaseId }));
    }

    private const string Agent = "spiffe://dev.local/agent/a";

    private UnauditedRevocationRecovery Recovery(string self) =>
        new(_ledger, _chains, _ledger, _chains.Of(self), new RevocationAuditTrail(_chains.Of(self), NullLogger<RevocationAuditTrail>.Instance, _ledger, self),
            _time, NullLogger<UnauditedRevocationRecovery>.Instance, TimeSpan.FromSeconds(90), Grace);

    private async Task<List<Lease>> MarkedByAsync(string owner, int count)
    {
        var now = _time.GetUtcNow();
        var leases = new List<Lease>();
        for (var i = 0; i < count; i++)
        {
            var lease = new Lease
            {
                LeaseId = $"lease_{Guid.NewGuid():N}", TaskId = "task-" + i, AgentId = Agent, IssuerKind = "jwt", CredentialFingerprint = "sha256:00",
                BackendHandle = "h", Scope = new GrantedScope("https://tickets", "read", [], []),
                IssuedAt = now, ExpiresAt = now + TimeSpan.FromMinutes(5),
            };
            await _ledger.PutAsync(lease);
            Assert.That(await _ledger.MarkOneRevokedAsync(lease.LeaseId, now, owner), Is.True);
            leases.Add(lease);
        }

        return leases;
    }

    /// <summary>Each replica's chain as the recovery sees it: what its audit log recorded.</summary>
    private sealed class Chains : IAuditChainIndex
    {
        private readonly ConcurrentDictionary<string, Chain> _chains = new(StringComparer.Ordinal);

        public Chain Of(string replica) => _chains.GetOrAdd(replica, _ => new Chain());

        public Task<IReadOnlySet<string>> RevokedLeaseIdsAsync(string replica, DateTimeOffset since, CancellationToken cancellationToken = default) =>
            Task.FromResult<IReadOnlySet<string>>(Of(replica).RevokedIds.ToHashSet(StringComparer.Ordinal));
    }

    private sealed class Chain : IAuditLog
    {
        public ConcurrentQueue<AuditEvent> Events { get; } = new();

        public bool Fail { get; set; }

        public IEnumerable<string> RevokedIds => Events.Where(e => e.Type == AuditEventTypes.LeaseRevoked).Select(e => e.LeaseId!);

        public void Record(Lease lease) => Events.Enqueue(new AuditEvent { Type = AuditEventTypes.LeaseRevoked, LeaseId = lease.LeaseId });

        public ValueTask AppendAsync(AuditEvent auditEvent, CancellationToken cancellationToken = default)
        {
            if (Fail)
            {
                throw new BrokerException(BrokerFailure.Unavailable, "audit.unavailable", "down");
            }

            Events.Enqueue(auditEvent);
            return ValueTask.CompletedTask;
        }
    }

    private sealed class StuckAuditLog : IAuditLog
    {
        public ValueTask AppendAsync(AuditEvent auditEvent, CancellationToken cancellationToken = default) =>
            new(Task.Delay(Timeout.Infinite, cancellationToken));
    }
}
