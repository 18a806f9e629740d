using System.Collections.Concurrent;
using JitBroker.Core;
using JitBroker.Leases.Redis;
using JitBroker.Redis;
using JitBroker.Testing;
using NUnit.Framework;

namespace JitBroker.Leases.Tests.Redis;

/// <summary>What only the Redis store promises: its key layout, compact records, forgetting, outages, several replicas.</summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class RedisLeaseStoreTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan ClaimTimeout = TimeSpan.FromSeconds(30);
    private RedisConnection _redis = null!;
    private string _prefix = null!;

    [SetUp]
    public async Task Connect()
    {
        _redis = await SharedRedis.ConnectionAsync();
        _prefix = SharedRedis.NewPrefix();
    }

    private static Lease NewLease(string leaseId, TimeSpan expiresIn, string agentId = "spiffe://td/agents/a", string taskId = "task-1") => new()
    {
        LeaseId = leaseId,
        TaskId = taskId,
        AgentId = agentId,
        IssuerKind = "jwt",
        BackendHandle = leaseId,
        Scope = new GrantedScope("https://tools.example/repo", "read", ["git.clone"], ["repo:acme/app"]),
        IssuedAt = T0,
        ExpiresAt = T0 + expiresIn,
        RuleIds = ["rule-read"],
        CredentialFingerprint = "sha256:" + new string('c', 64),
    };

    private async Task<bool> ExistsAsync(string key) => (await (await SharedRedis.AdminAsync()).ExecuteAsync("EXISTS", [key])).AsInt64() == 1;

    private async Task<bool> InSetAsync(string key, string member) => (await (await SharedRedis.AdminAsync()).ExecuteAsync("SISMEMBER", [key, member])).AsInt64() == 1;

    private async Task<bool> InZsetAsync(string key, string member) => !(await (await SharedRedis.AdminAsync()).ExecuteAsync("ZSCORE", [key, member])).IsNull;

    /// <summary>
    /// The whole stored hash of a new lease, as Redis holds it: the codec's fields (LeaseCodecTests pin those alone) plus
    /// the five the Put script writes from its leading arguments. LeaseCodecTests' full lease, under its MAC key.
    /// </summary>
    [Test]
    public async Task A_put_lease_is_stored_as_the_golden_hash()
    {
        var lease = LeaseCodecTests.FullLease;
        var store = new RedisLeaseStore(_redis, new RedisKeyLayout(_prefix), InMemoryLeaseStore.DefaultRevokedRetention, LeaseCodecTests.Mac);
        await store.PutAsync(NewLease(lease.ParentLeaseId!, TimeSpan.FromHours(1), lease.AgentId, lease.TaskId) with
        {
            IssuedAt = lease.IssuedAt, ExpiresAt = lease.IssuedAt.AddHours(1),
        });
        await store.PutAsync(lease);

        var flat = (await (await SharedRedis.AdminAsync()).ExecuteAsync("HGETALL", [(string)store.LeaseKey(lease.LeaseId)!])).AsArray();
        var stored = new Dictionary<string, byte[]>();
        for (var i = 0; i + 1 < flat.Length; i += 2)
        {
            stored.Add(flat[i].AsString()!, (byte[])flat[i + 1]!);
        }

        var golden = new Dictionary<string, byte[]>();
        string[] text =
        [
            "t", "task-7", "a", "spiffe://example.org/agent/é-billing", "k", "vault", "au", "https://api.example.org", "ac", "read",
            "i", "1790000000000", "e", "1790000300000", "d", "1790000300000", "s", "0",
            "p", "lease_parent", "ow", "team-billing", "h", "auth/token/accessor/é-abc123", "cj", "jkt-thumb", "cx", "x5t-thumb",
            "hm", "v1:c2d41accb4a597d3:mMkcQ19Ov4G4kfhFYCaQMO6j7IhCvdFi07qIhk1VtPY",
            "to", "tool.a\u001ftool.b\u001ftool.c", "r", "res:1\u001fres:2", "ru", "rule-1\u001frule-2", "af", "env\u001fprod\u001fzone\u001feu",
            "in", "6:refund6:ticket3:T-1",
        ];
        for (var i = 0; i < text.Length; i += 2)
        {
            golden.Add(text[i], System.Text.Encoding.UTF8.GetBytes(text[i + 1]));
        }

        golden.Add("f", Convert.FromHexString(new string('a', 32) + new string('0', 32)));
        Assert.That(stored, Is.EquivalentTo(golden));
    }

    [Test]
    public async Task A_claim_larger_than_one_chunk_takes_exactly_max_in_due_order_and_leaves_the_rest_due()
    {
        var store = new RedisLeaseStore(_redis, _prefix);
        var count = (2 * RedisLeaseStore.ClaimChunkSize) + 22;
        var leases = Enumerable.Range(0, count).Select(i => NewLease($"lease_{i:D4}", TimeSpan.FromSeconds(10 + i))).ToList();
        foreach (var lease in leases)
        {
            await store.PutAsync(lease);
        }

        var now = T0 + TimeSpan.FromHours(1);
        var first = await store.ClaimDueAsync(now, RedisLeaseStore.ClaimChunkSize + 10, ClaimTimeout);
        var rest = await store.ClaimDueAsync(now, 1000, ClaimTimeout);
        var none = await store.ClaimDueAsync(now, 1000, ClaimTimeout);

        Assert.That(first.Select(l => l.LeaseId), Is.EqualTo(leases.Take(RedisLeaseStore.ClaimChunkSize + 10).Select(l => l.LeaseId)), "max across chunks, earliest due first");
        Assert.That(rest.Select(l => l.LeaseId), Is.EqualTo(leases.Skip(RedisLeaseStore.ClaimChunkSize + 10).Select(l => l.LeaseId)), "the remainder, claimed once");
        Assert.That(first.Concat(rest), Has.All.Property(nameof(Lease.State)).EqualTo(LeaseState.Revoking));
        Assert.That(none, Is.Empty, "every lease is claimed exactly once");
    }

    [Test]
    public async Task A_sharded_claim_shares_a_backlog_by_bucket_and_keeps_each_buckets_due_order()
    {
        // Bucket 0 holds 18 due leases, bucket 1 holds 6: a claim of 20 takes 15 and 5, each bucket's earliest.
        var layout = new RedisKeyLayout(_prefix, 16);
        var store = new RedisLeaseStore(_redis, layout, InMemoryLeaseStore.DefaultRevokedRetention);
        var byBucket = new Dictionary<int, List<string>> { [0] = [], [1] = [] };
        for (var i = 0; i < 24; i++)
        {
            var bucket = i % 4 == 0 ? 1 : 0;
            var lease = NewLease(LeaseIds.New(bucket), TimeSpan.FromSeconds(10 + i));
            Assert.That(layout.BucketOf(lease.LeaseId), Is.EqualTo(bucket));
            await store.PutAsync(lease);
            byBucket[bucket].Add(lease.LeaseId);
        }

        var now = T0 + TimeSpan.FromHours(1);
        var first = await store.ClaimDueAsync(now, 20, ClaimTimeout);
        var rest = await store.ClaimDueAsync(now, 100, ClaimTimeout);

        string[] Of(IEnumerable<Lease> claimed, int bucket) => [.. claimed.Select(l => l.LeaseId).Where(id => layout.BucketOf(id) == bucket)];
        Assert.That(Of(first, 0), Is.EqualTo(byBucket[0].Take(15)), "three quarters of the claim, bucket 0's earliest in due order");
        Assert.That(Of(first, 1), Is.EqualTo(byBucket[1].Take(5)), "a quarter, bucket 1's earliest");
        Assert.That(Of(rest, 0).Concat(Of(rest, 1)), Is.EquivalentTo(byBucket[0].Skip(15).Concat(byBucket[1].Skip(5))), "the rest fits one claim");
        Assert.That(await store.NextDueAsync(now), Is.EqualTo(now + ClaimTimeout), "only the claims' deadlines are left");
    }

    [TestCase(new[] { 3, 0, 1 }, 10, 0, new[] { 3, 0, 1 })]
    [TestCase(new[] { 30, 10 }, 20, 0, new[] { 15, 5 })]
    [TestCase(new[] { 1, 1, 1, 1, 1 }, 3, 0, new[] { 1, 1, 1, 0, 0 })]
    [TestCase(new[] { 1, 1, 1, 1, 1 }, 3, 3, new[] { 1, 0, 0, 1, 1 })]
    [TestCase(new[] { 500, 0, 2, 500 }, 500, 1, new[] { 249, 0, 1, 250 })]
    public void Claim_shares_take_everything_due_when_it_fits_else_split_by_backlog(int[] due, int max, int start, int[] expected)
    {
        var share = RedisLeaseStore.ClaimShares(due, max, start);

        Assert.That(share, Is.EqualTo(expected));
        Assert.That(share.Sum(), Is.EqualTo(Math.Min(max, due.Sum())));
    }

    [Test]
    public async Task Writes_that_schedule_tell_the_due_signal_when_and_failed_writes_do_not()
    {
        var signalled = new List<DateTimeOffset>();
        var signal = new Moq.Mock<ILeaseDueSignal>();
        signal.Setup(s => s.LeaseDue(Moq.It.IsAny<DateTimeOffset>())).Callback((DateTimeOffset at) => signalled.Add(at));
        var store = new RedisLeaseStore(_redis, new RedisKeyLayout(_prefix), InMemoryLeaseStore.DefaultRevokedRetention, dueSignal: signal.Object);
        var parent = NewLease(LeaseIds.New(7), TimeSpan.FromSeconds(30));
        var child = NewLease(LeaseIds.New(7), TimeSpan.FromSeconds(40)) with { ParentLeaseId = parent.LeaseId };

        await store.PutAsync(parent);
        await store.PutAsync(child);
        Assert.ThrowsAsync<InvalidOperationException>(() => store.PutAsync(parent), "a refused put schedules nothing");
        await store.MarkRevokedManyAsync([parent.LeaseId], T0 + TimeSpan.FromSeconds(5));
        await store.ScheduleLeasesAsync([child.LeaseId], T0 + TimeSpan.FromSeconds(6), batchId: null);

        Assert.That(signalled, Is.EqualTo(new[] { parent.ExpiresAt, child.ExpiresAt, T0 + TimeSpan.FromSeconds(5) }),
            "each new lease at its expiry; the revocation schedules the child now; the child was already scheduled, so no second signal");
    }

    [TestCase(true)]
    [TestCase(false)]
    public async Task Ending_a_task_signals_the_sweeper_only_for_its_claims_and_leaves_nothing_due_now(bool ledgerRevokes)
    {
        var signalled = new List<DateTimeOffset>();
        var signal = new Moq.Mock<ILeaseDueSignal>();
        signal.Setup(s => s.LeaseDue(Moq.It.IsAny<DateTimeOffset>())).Callback((DateTimeOffset at) => signalled.Add(at));
        var store = new RedisLeaseStore(_redis, new RedisKeyLayout(_prefix), InMemoryLeaseStore.DefaultRevokedRetention, dueSignal: signal.Object);
        var parent = NewLease(LeaseIds.New(7), TimeSpan.FromSeconds(30));
        var child = NewLease(LeaseIds.New(7), TimeSpan.FromSeconds(40), agentId: "spiffe://td/agents/w") with { ParentLeaseId = parent.LeaseId };
        await store.PutAsync(parent);
        await store.PutAsync(child);
        signalled.Clear();
        var now = T0 + TimeSpan.FromSeconds(5);

        var tree = await store.ClaimTaskAsync(parent.AgentId, parent.TaskId, now, ClaimTimeout,
            ledgerRevokes ? new LedgerRevocation(new HashSet<string>(["jwt"]), null) : null);

        Assert.That(tree.Select(c => c.LeaseId), Is.EqualTo(new[] { parent.LeaseId, child.LeaseId }));
        Assert.That(tree.Select(c => c.RevokedInStep), Has.All.EqualTo(ledgerRevokes));
        Assert.That(signalled, ledgerRevokes ? Is.Empty : Is.EqualTo(new[] { now + ClaimTimeout }),
            "claims lapse at their deadline, when the sweeper must look; leases revoked in the step need no sweeper");
        Assert.That(await store.ClaimDueAsync(now, 100, ClaimTimeout), Is.Empty,
            "nothing is due now: the child the parent's mark scheduled was walked and claimed or revoked in the same script");
    }

    [TestCase(true)]
    [TestCase(false)]
    public async Task A_due_entry_left_for_a_revoked_lease_is_dropped_never_claimed(bool ledgerRevokes)
    {
        // A revoked lease is never put in the due set; were an entry for one left there (a script stopped part-way), a
        // claim would make the lease revoking again and hand it to a revoker a second time.
        var store = new RedisLeaseStore(_redis, _prefix);
        var lease = NewLease(LeaseIds.New(), TimeSpan.FromSeconds(30));
        await store.PutAsync(lease);
        var revokedAt = T0 + TimeSpan.FromSeconds(5);
        Assert.That(await store.MarkRevokedManyAsync([lease.LeaseId], revokedAt), Is.EqualTo(new[] { true }));
        await (await SharedRedis.AdminAsync()).ExecuteAsync("ZADD", [$"{_prefix}due", 0, lease.LeaseId]);

        var claimed = await store.ClaimDueAsync(revokedAt, 100, ClaimTimeout,
            ledgerRevokes ? new LedgerRevocation(new HashSet<string>(["jwt"]), null) : null);

        Assert.That(claimed, Is.Empty);
        var stored = await store.GetAsync(lease.LeaseId);
        Assert.That(stored!.State, Is.EqualTo(LeaseState.Revoked));
        Assert.That(stored.RevokedAt, Is.EqualTo(revokedAt));
        Assert.That((await (await SharedRedis.AdminAsync()).ExecuteAsync("ZSCORE", [$"{_prefix}due", lease.LeaseId])).IsNull, Is.True, "the stale entry is gone");
    }

    [Test]
    public async Task A_lease_is_one_compact_listpack_hash_plus_index_entries()
    {
        var store = new RedisLeaseStore(_redis, _prefix);
        await store.PutAsync(NewLease("lease_parent", TimeSpan.FromMinutes(10)));
        var lease = NewLease(LeaseIds.New(), TimeSpan.FromMinutes(5)) with { ParentLeaseId = "lease_parent" };

        await store.PutAsync(lease);

        var key = $"{_prefix}lease:{{{lease.LeaseId}}}";
        Assert.That((await (await SharedRedis.AdminAsync()).ExecuteAsync("OBJECT", ["ENCODING", key])).AsString(), Is.EqualTo("listpack"));
        var fields = (await (await SharedRedis.AdminAsync()).ExecuteAsync("HKEYS", [key])).AsArray().Select(v => v.AsString()!).ToList();
        Assert.That(fields, Has.All.Length.LessThanOrEqualTo(2), "short field names");
        Assert.That(fields, Does.Not.Contain("h"), "a backend handle equal to the lease id is not stored twice");
        Assert.That((await (await SharedRedis.AdminAsync()).ExecuteAsync("HGET", [key, "f"])).AsBytes(), Has.Length.EqualTo(32), "the fingerprint as its raw digest");
        Assert.That((await (await SharedRedis.AdminAsync()).ExecuteAsync("HGET", [key, "e"])).AsString(), Is.EqualTo(lease.ExpiresAt.ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.That(await InSetAsync($"{_prefix}task:{{{lease.AgentId}|task-1}}", lease.LeaseId));
        Assert.That(await InSetAsync($"{_prefix}agent:{{{lease.AgentId}}}", "task-1"));
        Assert.That(await InSetAsync($"{_prefix}children:{{lease_parent}}", lease.LeaseId));
        Assert.That(await InSetAsync($"{_prefix}delegated", lease.LeaseId), "delegated leases are indexed for the consistency sweep");
        Assert.That(await InSetAsync($"{_prefix}agents", lease.AgentId), "agents are indexed for kill-switch patterns");
        Assert.That((await (await SharedRedis.AdminAsync()).ExecuteAsync("ZSCORE", [$"{_prefix}due", lease.LeaseId])).AsInt64(), Is.EqualTo(lease.ExpiresAt.ToUnixTimeMilliseconds()));
        Assert.That(await InZsetAsync($"{_prefix}ids", lease.LeaseId));
    }

    [Test]
    public async Task Revoked_leases_expire_as_a_backstop_and_are_forgotten_with_their_index_entries_after_the_retention()
    {
        var store = new RedisLeaseStore(_redis, _prefix, TimeSpan.FromMinutes(10));
        var lease = NewLease("lease_forget", TimeSpan.FromMinutes(5), "agent-x", "task-x");
        var sibling = NewLease("lease_sibling", TimeSpan.FromHours(5), "agent-y", "task-y") with { ParentLeaseId = "lease_forget" };
        await store.PutAsync(lease);
        await store.PutAsync(sibling);
        var revokedAt = T0 + TimeSpan.FromMinutes(1);
        await store.MarkOneRevokedAsync(lease.LeaseId, revokedAt);
        var key = $"{_prefix}lease:{{lease_forget}}";

        var ttl = (await (await SharedRedis.AdminAsync()).ExecuteAsync("PTTL", [key])).AsInt64();
        Assert.That(ttl, Is.InRange(TimeSpan.FromMinutes(23).TotalMilliseconds, TimeSpan.FromMinutes(24).TotalMilliseconds),
            "remaining life (4 min) + retention (10 min) + retention again as grace");

        var forgetAt = lease.ExpiresAt + TimeSpan.FromMinutes(10);
        await store.ClaimDueAsync(forgetAt - TimeSpan.FromMilliseconds(1), 10, ClaimTimeout);
        Assert.That(await store.GetAsync(lease.LeaseId), Is.Not.Null);
        Assert.That((await store.CountByStateAsync())[LeaseState.Revoked], Is.EqualTo(1));

        await store.ClaimDueAsync(forgetAt, 10, ClaimTimeout);

        Assert.That(await store.GetAsync(lease.LeaseId), Is.Null);
        Assert.That(await ExistsAsync(key), Is.False);
        Assert.That(await ExistsAsync($"{_prefix}task:{{agent-x|task-x}}"), Is.False);
        Assert.That(await ExistsAsync($"{_prefix}agent:{{agent-x}}"), Is.False, "the agent's last task went with it");
        Assert.That(await InZsetAsync($"{_prefix}ids", lease.LeaseId), Is.False);
        Assert.That(await InZsetAsync($"{_prefix}revoked", lease.LeaseId), Is.False);
        Assert.That((await store.CountByStateAsync())[LeaseState.Revoked], Is.Zero);
        Assert.That(await store.GetAsync(sibling.LeaseId), Is.Not.Null);
    }

    [Test]
    public async Task Index_entries_of_a_hash_that_expired_on_its_own_are_dropped_by_readers()
    {
        var store = new RedisLeaseStore(_redis, _prefix);
        await store.PutAsync(NewLease("lease_vanished", TimeSpan.FromMinutes(5), "agent-v", "task-v"));
        await (await SharedRedis.AdminAsync()).ExecuteAsync("DEL", [$"{_prefix}lease:{{lease_vanished}}"]); // as if its backstop PEXPIRE fired

        Assert.That(await store.ListByTaskAsync("agent-v", "task-v"), Is.Empty);
        Assert.That((await store.ListAsync(new LeaseQuery())).Leases, Is.Empty);
        Assert.That(await InSetAsync($"{_prefix}task:{{agent-v|task-v}}", "lease_vanished"), Is.False);
        Assert.That(await InZsetAsync($"{_prefix}ids", "lease_vanished"), Is.False);
        Assert.That(await store.ClaimDueAsync(T0 + TimeSpan.FromHours(1), 10, ClaimTimeout), Is.Empty);
        Assert.That(await InZsetAsync($"{_prefix}due", "lease_vanished"), Is.False, "the claim dropped the dangling due entry");
    }

    [Test]
    public async Task An_agent_and_task_whose_joined_index_key_collides_do_not_see_each_others_leases()
    {
        var store = new RedisLeaseStore(_redis, _prefix);
        await store.PutAsync(NewLease("lease_1", TimeSpan.FromMinutes(5), "a|b", "c"));
        await store.PutAsync(NewLease("lease_2", TimeSpan.FromMinutes(5), "a", "b|c"));

        Assert.That((await store.ListByTaskAsync("a|b", "c")).Select(l => l.LeaseId), Is.EqualTo(new[] { "lease_1" }));
        Assert.That((await store.ListByTaskAsync("a", "b|c")).Select(l => l.LeaseId), Is.EqualTo(new[] { "lease_2" }));
    }

    [Test]
    public async Task Two_replicas_with_their_own_connections_never_claim_the_same_lease()
    {
        var server = await SharedRedis.ServerAsync();
        await using var second = new RedisConnection(SharedRedis.BrokerOptions(server));
        var replicas = new[] { new RedisLeaseStore(_redis, _prefix), new RedisLeaseStore(second, _prefix) };
        const int leaseCount = 2_000;
        await Task.WhenAll(Enumerable.Range(0, leaseCount).Select(i => replicas[i % 2].PutAsync(NewLease($"lease_{i:00000}", TimeSpan.FromMilliseconds(i + 1)))));

        var claims = new ConcurrentBag<string>();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(worker => Task.Run(async () =>
        {
            var store = replicas[worker % 2];
            for (var round = 0; round <= leaseCount; round++)
            {
                var batch = await store.ClaimDueAsync(T0 + TimeSpan.FromHours(1), 50, ClaimTimeout);
                if (batch.Count == 0)
                {
                    return;
                }

                foreach (var lease in batch)
                {
                    claims.Add(lease.LeaseId);
                    await store.MarkOneRevokedAsync(lease.LeaseId, T0 + TimeSpan.FromHours(1));
                }
            }
        })));

        Assert.That(claims, Has.Count.EqualTo(leaseCount));
        Assert.That(claims.Distinct().Count(), Is.EqualTo(leaseCount));
        Assert.That((await replicas[0].CountByStateAsync())[LeaseState.Revoked], Is.EqualTo(leaseCount));
    }

    [Test]
    public async Task An_unreachable_redis_is_lease_store_unavailable_and_fails_fast()
    {
        await using var dead = new RedisConnection(new RedisOptions
        {
            Endpoint = $"127.0.0.1:{JitBroker.Redis.Tests.Harness.RedisServerProcess.FreePort()}",
            ConnectTimeout = TimeSpan.FromSeconds(1),
        });
        var store = new RedisLeaseStore(dead, _prefix);
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var put = Assert.ThrowsAsync<BrokerException>(() => store.PutAsync(NewLease("lease_1", TimeSpan.FromMinutes(1))));
        var claim = Assert.ThrowsAsync<BrokerException>(() => store.ClaimDueAsync(T0, 10, ClaimTimeout));

        Assert.That((put!.Failure, put.Reason), Is.EqualTo((BrokerFailure.Unavailable, Reasons.LeaseStoreUnavailable)));
        Assert.That((claim!.Failure, claim.Reason), Is.EqualTo((BrokerFailure.Unavailable, Reasons.LeaseStoreUnavailable)));
        Assert.That(put.Message, Does.Not.Contain("127.0.0.1"), "the caller-facing message names no infrastructure");
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(2.5)));
    }

    [Test]
    public async Task A_cancelled_put_writes_nothing()
    {
        var store = new RedisLeaseStore(_redis, _prefix);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        Assert.CatchAsync<OperationCanceledException>(() => store.PutAsync(NewLease("lease_c", TimeSpan.FromMinutes(1)), cancelled.Token));

        Assert.That(await store.GetAsync("lease_c"), Is.Null);
    }

    [Test]
    public void List_values_holding_the_separator_are_refused()
    {
        var store = new RedisLeaseStore(_redis, _prefix);
        var lease = NewLease("lease_sep", TimeSpan.FromMinutes(1)) with { RuleIds = ["a\u001fb"] };
        Assert.ThrowsAsync<ArgumentException>(() => store.PutAsync(lease));
    }
}
