using System.Security.Cryptography;
using JitBroker.Core;
using JitBroker.Leases.Redis;
using JitBroker.Redis;
using NUnit.Framework;

namespace JitBroker.Leases.Tests.Redis;

/// <summary>
/// A lease's credential binding (<c>cnf.jkt</c>, <c>cnf.x5t#S256</c>) is what renewal re-binds the replacement token to,
/// so someone who can write Redis must not be able to strip, swap or add it unnoticed: the handle MAC covers it, and a
/// lease whose MAC fails reads back untrusted (the JWT issuer then refuses to renew it).
/// </summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class RedisLeaseBindingTests
{
    private const string Jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
    private const string AttackerJkt = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
    private static readonly DateTimeOffset T0 = new(2026, 12, 3, 12, 0, 0, TimeSpan.Zero);

    private RedisLeaseStore _store = null!;
    private RedisConnection _attacker = null!;

    [SetUp]
    public async Task Connect()
    {
        _store = new RedisLeaseStore(await SharedRedis.ConnectionAsync(), new RedisKeyLayout(SharedRedis.NewPrefix()), TimeSpan.FromHours(1),
            new StateMac(RandomNumberGenerator.GetBytes(32)));
        _attacker = await SharedRedis.AdminAsync();
    }

    [Test]
    public async Task The_binding_is_stored_in_its_own_hash_fields()
    {
        await _store.PutAsync(JwtLease("lease_a", Jkt, "x5t-value"));

        var fields = (await _attacker.ExecuteAsync("HMGET", [_store.LeaseKey("lease_a"), LeaseCodec.ProofKeyThumbprint, LeaseCodec.CertificateThumbprint])).AsArray();

        Assert.That(fields.Select(f => f.AsString()), Is.EqualTo(new[] { Jkt, "x5t-value" }));
    }

    [TestCase("strip", TestName = "Stripping a lease's DPoP binding in Redis makes it untrusted")]
    [TestCase("swap", TestName = "Swapping a lease's DPoP binding for the attacker's key in Redis makes it untrusted")]
    public async Task Tampering_with_a_binding_is_detected(string how)
    {
        await _store.PutAsync(JwtLease("lease_a", Jkt));
        await _store.PutAsync(JwtLease("lease_b", Jkt));

        await (how == "strip"
            ? _attacker.ExecuteAsync("HDEL", [_store.LeaseKey("lease_a"), LeaseCodec.ProofKeyThumbprint])
            : _attacker.ExecuteAsync("HSET", [_store.LeaseKey("lease_a"), LeaseCodec.ProofKeyThumbprint, AttackerJkt]));

        Assert.That((await _store.GetAsync("lease_a"))!.BackendHandleUntrusted, Is.True);
        Assert.That((await _store.GetAsync("lease_b"))!.BackendHandleUntrusted, Is.False);
    }

    [Test]
    public async Task Binding_an_unbound_lease_in_Redis_makes_it_untrusted()
    {
        await _store.PutAsync(JwtLease("lease_a", jkt: null));

        await _attacker.ExecuteAsync("HSET", [_store.LeaseKey("lease_a"), LeaseCodec.ProofKeyThumbprint, AttackerJkt]);

        Assert.That((await _store.GetAsync("lease_a"))!.BackendHandleUntrusted, Is.True);
    }

    [Test]
    public async Task Copying_another_bound_leases_fields_and_MAC_does_not_verify_either()
    {
        await _store.PutAsync(JwtLease("lease_a", Jkt));
        await _store.PutAsync(JwtLease("lease_b", AttackerJkt));
        var other = (await _attacker.ExecuteAsync("HMGET", [_store.LeaseKey("lease_b"), LeaseCodec.ProofKeyThumbprint, LeaseCodec.HandleMac])).AsArray();

        await _attacker.ExecuteAsync("HSET", [_store.LeaseKey("lease_a"), LeaseCodec.ProofKeyThumbprint, other[0].AsString()!, LeaseCodec.HandleMac, other[1].AsString()!]);

        Assert.That((await _store.GetAsync("lease_a"))!.BackendHandleUntrusted, Is.True, "the MAC binds the binding to its lease id");
    }

    private static Lease JwtLease(string leaseId, string? jkt, string? x5t = null) => new()
    {
        LeaseId = leaseId,
        TaskId = "task-1",
        AgentId = "spiffe://td/agents/a",
        IssuerKind = "jwt",
        BackendHandle = leaseId,
        Scope = new GrantedScope("https://tools", "read", [], []),
        IssuedAt = T0,
        ExpiresAt = T0 + TimeSpan.FromMinutes(5),
        CredentialFingerprint = "sha256:" + new string('c', 64),
        ProofKeyThumbprint = jkt,
        CertificateThumbprint = x5t,
    };
}
