using System.Security.Cryptography;
using JitBroker.Core;
using JitBroker.Leases.Redis;
using JitBroker.Redis;
using NUnit.Framework;

namespace JitBroker.Leases.Tests.Redis;

/// <summary>
/// Someone who can write Redis (but does not hold the state integrity key) cannot approve a request, lift a block or
/// point a lease at another credential (issue 17 item 7). Each test writes Redis directly, as such an attacker would.
/// </summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class RedisStateIntegrityTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 3, 12, 0, 0, TimeSpan.Zero);
    private readonly byte[] _keyBytes = RandomNumberGenerator.GetBytes(32);
    private StateMac _key = null!;
    private RedisConnection _redis = null!;
    private RedisConnection _attacker = null!;
    private string _prefix = null!;

    [SetUp]
    public async Task Connect()
    {
        _redis = await SharedRedis.ConnectionAsync();
        _attacker = await SharedRedis.AdminAsync();
        _prefix = SharedRedis.NewPrefix();
        _key = new StateMac(_keyBytes);
    }

    [Test]
    public async Task A_lease_whose_backend_handle_was_rewritten_in_Redis_reads_back_untrusted()
    {
        var store = new RedisLeaseStore(_redis, new RedisKeyLayout(_prefix), TimeSpan.FromHours(1), _key);
        await store.PutAsync(VaultLease("lease_a", "accessor-of-lease-a"));
        await store.PutAsync(VaultLease("lease_b", "accessor-of-lease-b"));

        await _attacker.ExecuteAsync("HSET", [store.LeaseKey("lease_a"), "h", "accessor-of-another-service"]);

        var tampered = await store.GetAsync("lease_a");
        var untouched = await store.GetAsync("lease_b");
        Assert.Multiple(() =>
        {
            Assert.That(tampered!.BackendHandleUntrusted, Is.True);
            Assert.That(untouched!.BackendHandleUntrusted, Is.False);
        });
    }

    [Test]
    public async Task Copying_another_leases_handle_and_MAC_does_not_verify_either()
    {
        var store = new RedisLeaseStore(_redis, new RedisKeyLayout(_prefix), TimeSpan.FromHours(1), _key);
        await store.PutAsync(VaultLease("lease_a", "accessor-of-lease-a"));
        await store.PutAsync(VaultLease("lease_b", "accessor-of-lease-b"));
        var other = (await _attacker.ExecuteAsync("HMGET", [store.LeaseKey("lease_b"), "h", LeaseCodec.HandleMac])).AsArray();

        await _attacker.ExecuteAsync("HSET", [store.LeaseKey("lease_a"), "h", other[0].AsString()!, LeaseCodec.HandleMac, other[1].AsString()!]);

        Assert.That((await store.GetAsync("lease_a"))!.BackendHandleUntrusted, Is.True, "the MAC binds the handle to its lease id");
    }

    [Test]
    public async Task A_lease_written_without_a_MAC_or_with_another_key_is_untrusted_everywhere_it_is_read()
    {
        var store = new RedisLeaseStore(_redis, new RedisKeyLayout(_prefix), TimeSpan.FromHours(1), _key);
        var otherKey = new RedisLeaseStore(_redis, new RedisKeyLayout(_prefix), TimeSpan.FromHours(1), new StateMac(RandomNumberGenerator.GetBytes(32)));
        await store.PutAsync(VaultLease("lease_legacy", "accessor-legacy", expiresIn: TimeSpan.FromSeconds(1)));
        await otherKey.PutAsync(VaultLease("lease_foreign", "accessor-foreign", expiresIn: TimeSpan.FromSeconds(1)));
        // As a lease recorded before handles were authenticated looks.
        await _attacker.ExecuteAsync("HDEL", [store.LeaseKey("lease_legacy"), LeaseCodec.HandleMac]);

        var claimed = await store.ClaimDueAsync(T0.AddMinutes(1), 10, TimeSpan.FromSeconds(30));

        Assert.That(claimed.Select(l => (l.LeaseId, l.BackendHandleUntrusted)),
            Is.EquivalentTo(new[] { ("lease_legacy", true), ("lease_foreign", true) }));
    }

    [Test]
    public async Task An_approval_rewritten_to_approved_in_Redis_is_refused_and_a_forged_pending_one_is_never_listed()
    {
        var store = new RedisApprovalStore(_redis, _prefix, TimeProvider.System, _key);
        var pending = Approval("ap-1");
        await store.PutAsync(pending);
        var key = $"{_prefix}approval:{{ap-1}}";
        var stored = (await _attacker.ExecuteAsync("HGET", [key, "j"])).AsString()!;
        var forgedJson = stored[(stored.IndexOf('\n', StringComparison.Ordinal) + 1)..].Replace("\"State\":0", "\"State\":1", StringComparison.Ordinal);
        Assert.That(forgedJson, Does.Contain("\"State\":1"), "the test must really change the state to approved");

        await _attacker.ExecuteAsync("HSET", [key, "s", "1", "j", stored[..stored.IndexOf('\n', StringComparison.Ordinal)] + "\n" + forgedJson]);
        await _attacker.ExecuteAsync("HSET", [$"{_prefix}approval:{{ap-forged}}", "s", "0", "e", T0.AddHours(2).ToUnixTimeMilliseconds(), "j", forgedJson.Replace("ap-1", "ap-forged", StringComparison.Ordinal)]);
        await _attacker.ExecuteAsync("ZADD", [$"{_prefix}approvals:pending", 1, "ap-forged"]);

        var ex = Assert.ThrowsAsync<BrokerException>(async () => await store.GetAsync("ap-1"));
        Assert.That(ex!.Reason, Is.EqualTo(Reasons.Store.IntegrityCheckFailed));
        Assert.That(ex.Failure, Is.Not.EqualTo(BrokerFailure.Unavailable));
        Assert.That(await store.ListPendingAsync(T0, 10), Is.Empty);
    }

    [Test]
    public async Task A_genuine_approval_round_trips_and_transitions()
    {
        var store = new RedisApprovalStore(_redis, _prefix, TimeProvider.System, _key);
        await store.PutAsync(Approval("ap-2"));

        var moved = await store.TransitionAsync(Approval("ap-2") with { State = ApprovalState.Approved, DecidedBy = "spiffe://td/admins/alice" }, ApprovalState.Pending);

        Assert.That(moved, Is.True);
        Assert.That((await store.GetAsync("ap-2"))!.State, Is.EqualTo(ApprovalState.Approved));
    }

    [TestCase("HDEL", TestName = "Deleting_a_block_from_Redis_does_not_lift_it_every_request_is_refused_instead")]
    [TestCase("HSET", TestName = "Rewriting_a_block_in_Redis_does_not_lift_it_every_request_is_refused_instead")]
    public async Task Tampering_with_the_block_list_fails_closed(string command)
    {
        var blocks = new RedisKillSwitch(_redis, _prefix, _key);
        await blocks.BlockAsync(new AgentBlock("spiffe://td/agents/rogue", "compromised", "spiffe://td/admins/alice", T0));
        await blocks.BlockAsync(new AgentBlock("spiffe://td/agents/other", "audit", "spiffe://td/admins/alice", T0));
        var freshReplica = new RedisKillSwitch(_redis, _prefix, _key);

        object[] args = command == "HDEL"
            ? [$"{_prefix}blocks", "spiffe://td/agents/rogue"]
            : [$"{_prefix}blocks", "spiffe://td/agents/rogue", """{"pattern":"spiffe://td/agents/rogue","reason":"x","blockedBy":"x","blockedAt":"2026-12-03T12:00:00+00:00","expiresAt":"2000-01-01T00:00:00+00:00"}"""];
        await _attacker.ExecuteAsync(command, args);
        await _attacker.ExecuteAsync("INCR", [$"{_prefix}blocks:version"]);

        foreach (var replica in new[] { blocks, freshReplica })
        {
            var ex = Assert.ThrowsAsync<BrokerException>(async () => await replica.FindBlockAsync("spiffe://td/agents/rogue", T0.AddMinutes(1)));
            Assert.That(ex!.Reason, Is.EqualTo(Reasons.Store.IntegrityCheckFailed));
            Assert.ThrowsAsync<BrokerException>(async () => await replica.FindBlockAsync("spiffe://td/agents/innocent", T0.AddMinutes(1)));
        }

        Assert.ThrowsAsync<BrokerException>(async () => await blocks.UnblockAsync("spiffe://td/agents/other"), "an untrusted list is never re-sealed");
    }

    [Test]
    public async Task Wiping_the_block_list_is_caught_by_a_replica_that_saw_it_and_unsealed_legacy_blocks_are_refused()
    {
        var blocks = new RedisKillSwitch(_redis, _prefix, _key);
        await blocks.BlockAsync(new AgentBlock("spiffe://td/agents/rogue", "compromised", "spiffe://td/admins/alice", T0));
        Assert.That(await blocks.FindBlockAsync("spiffe://td/agents/rogue", T0.AddMinutes(1)), Is.Not.Null);

        await _attacker.ExecuteAsync("DEL", [$"{_prefix}blocks", $"{_prefix}blocks:version", $"{_prefix}blocks:seal"]);
        var wiped = Assert.ThrowsAsync<BrokerException>(async () => await blocks.FindBlockAsync("spiffe://td/agents/rogue", T0.AddMinutes(1)));

        // A list written before the seal existed (blocks, a version, no seal) is not trusted by anyone.
        await _attacker.ExecuteAsync("HSET", [$"{_prefix}blocks", "spiffe://td/agents/rogue", """{"pattern":"spiffe://td/agents/rogue","reason":"x","blockedBy":"x","blockedAt":"2026-12-03T12:00:00+00:00"}"""]);
        await _attacker.ExecuteAsync("SET", [$"{_prefix}blocks:version", "1"]);
        var legacy = Assert.ThrowsAsync<BrokerException>(async () => await new RedisKillSwitch(_redis, _prefix, _key).ListAsync());

        Assert.That((wiped!.Reason, legacy!.Reason), Is.EqualTo((Reasons.Store.IntegrityCheckFailed, Reasons.Store.IntegrityCheckFailed)));
    }

    [Test]
    public async Task A_genuine_block_list_blocks_and_unblocks_across_replicas_and_survives_a_key_rotation()
    {
        var one = new RedisKillSwitch(_redis, _prefix, _key);
        var sameKey = new RedisKillSwitch(_redis, _prefix, new StateMac(_keyBytes));
        await one.BlockAsync(new AgentBlock("spiffe://td/agents/*", "incident", "spiffe://td/admins/alice", T0));
        var seenBySameKey = await sameKey.FindBlockAsync("spiffe://td/agents/a", T0.AddMinutes(1));
        // Rotation: a replica with a new key that keeps the old one as previous still trusts the list, and re-seals it.
        var rotated = new RedisKillSwitch(_redis, _prefix, new StateMac(RandomNumberGenerator.GetBytes(32), [_keyBytes]));

        var seenAfterRotation = await rotated.FindBlockAsync("spiffe://td/agents/a", T0.AddMinutes(1));
        var lifted = await rotated.UnblockAsync("spiffe://td/agents/*");

        Assert.Multiple(async () =>
        {
            Assert.That(seenBySameKey, Is.Not.Null);
            Assert.That(seenAfterRotation, Is.Not.Null);
            Assert.That(lifted, Is.True);
            Assert.That(await rotated.FindBlockAsync("spiffe://td/agents/a", T0.AddMinutes(1)), Is.Null);
        });
    }

    private static Lease VaultLease(string leaseId, string accessor, TimeSpan? expiresIn = null) => new()
    {
        LeaseId = leaseId,
        TaskId = "task-1",
        AgentId = "spiffe://td/agents/a",
        IssuerKind = "vault-token",
        BackendHandle = accessor,
        Scope = new GrantedScope("vault", "read", [], []),
        IssuedAt = T0,
        ExpiresAt = T0 + (expiresIn ?? TimeSpan.FromMinutes(5)),
        CredentialFingerprint = "sha256:" + new string('c', 64),
    };

    private static ApprovalRecord Approval(string id) => new()
    {
        ApprovalId = id,
        RequestHash = "sha256:" + new string('a', 64),
        AgentId = "spiffe://td/agents/a",
        Request = new CredentialRequest("task-1", new TaskIntent("deploy", "ship", ["kubectl"], ["cluster:prod"], new Dictionary<string, string>()), "jwt", "https://deploy.example", TimeSpan.FromMinutes(5)),
        RuleIds = ["rule-deploy"],
        Approvers = ["spiffe://td/admins/*"],
        CreatedAt = T0,
        ExpiresAt = T0.AddHours(1),
    };
}
