using System.Collections.ObjectModel;
using System.Text;
using JitBroker.Core;
using JitBroker.Leases.Redis;
using NUnit.Framework;
using StackExchange.Redis;

namespace JitBroker.Leases.Tests.Redis;

/// <summary>
/// The stored hash of a new lease, byte for byte: leases written by older and newer brokers share one Redis, so any
/// change here is a format change (and a changed handle MAC would make every stored lease's handle untrusted). These pin
/// what the codec sends; the five fields the Put script writes from its own arguments (t, a, e, d, s) are pinned with
/// the rest, as stored in a real Redis, by <c>RedisLeaseStoreTests.A_put_lease_is_stored_as_the_golden_hash</c>.
/// </summary>
public sealed class LeaseCodecTests
{
    /// <summary>The handle MAC's key of the golden leases (RedisLeaseStoreTests stores <see cref="FullLease"/> with it too).</summary>
    internal static readonly StateMac Mac = new([.. Enumerable.Range(1, 32).Select(i => (byte)i)]);

    private static readonly DateTimeOffset Issued = DateTimeOffset.FromUnixTimeMilliseconds(1_790_000_000_000);

    /// <summary>A lease with every optional field, delegated from <c>lease_parent</c> (same agent and task).</summary>
    internal static Lease FullLease => Bare("lease_full") with
    {
        TaskId = "task-7",
        AgentId = "spiffe://example.org/agent/é-billing",
        ParentLeaseId = "lease_parent",
        IssuerKind = "vault",
        // Non-ASCII under the MAC: the tag covers the UTF-8 bytes.
        BackendHandle = "auth/token/accessor/é-abc123",
        ProofKeyThumbprint = "jkt-thumb",
        CertificateThumbprint = "x5t-thumb",
        Scope = new GrantedScope("https://api.example.org", "read", ["tool.a", "tool.b", "tool.c"], ["res:1", "res:2"]),
        ExpiresAt = Issued.AddMinutes(5),
        RuleIds = ["rule-1", "rule-2"],
        CredentialFingerprint = "sha256:" + new string('a', 32) + new string('0', 32),
        Owner = "team-billing",
        AgentFacts = new Dictionary<string, string> { ["zone"] = "eu", ["env"] = "prod" },
        DecidedIntent = new DecidedIntent { Purpose = "refund", Context = new Dictionary<string, string> { ["ticket"] = "T-1" } },
    };

    [Test]
    public void A_lease_with_every_optional_field_keeps_its_golden_fields()
    {
        var lease = FullLease;

        Assert.That(Stored(LeaseCodec.ToFields(lease, Mac)), Is.EqualTo(Text(
            "k", "vault", "au", "https://api.example.org", "ac", "read", "i", "1790000000000",
            "p", "lease_parent", "ow", "team-billing", "h", "auth/token/accessor/é-abc123", "cj", "jkt-thumb", "cx", "x5t-thumb",
            "hm", "v1:c2d41accb4a597d3:mMkcQ19Ov4G4kfhFYCaQMO6j7IhCvdFi07qIhk1VtPY",
            "to", "tool.a\u001ftool.b\u001ftool.c", "r", "res:1\u001fres:2", "ru", "rule-1\u001frule-2", "af", "env\u001fprod\u001fzone\u001feu",
            "in", "6:refund6:ticket3:T-1", "f").Append(Convert.FromHexString(new string('a', 32) + new string('0', 32)))));
    }

    [Test]
    public void A_typical_unbound_lease_keeps_its_golden_fields()
    {
        var lease = Bare("lease_typ") with
        {
            TaskId = "task-7",
            AgentId = "spiffe://example.org/agent/billing",
            Scope = new GrantedScope("https://api.example.org", "read", ["tool.a"], ["res:1"]),
            ExpiresAt = Issued.AddMinutes(5),
            RuleIds = ["rule-1"],
            CredentialFingerprint = "sha256:" + new string('b', 64),
            AgentFacts = new Dictionary<string, string> { ["zone"] = "eu" },
        };

        Assert.That(Stored(LeaseCodec.ToFields(lease, Mac)), Is.EqualTo(Text(
            "k", "jwt", "au", "https://api.example.org", "ac", "read", "i", "1790000000000",
            "hm", "v1:c2d41accb4a597d3:1FdtJ0IhLvWRjwd3hFAVG1ZMiyRCfvOI3f7dj8KlHjg",
            "to", "tool.a", "r", "res:1", "ru", "rule-1", "af", "zone\u001feu", "f").Append(Convert.FromHexString(new string('b', 64)))));
    }

    [Test]
    public void A_lease_without_lists_or_a_digest_fingerprint_leaves_them_out_and_keeps_the_text()
    {
        var lease = Bare("lease_bare") with { ProofKeyThumbprint = "jkt-only", CredentialFingerprint = "sha256:" + new string('B', 64) };

        var fields = Stored(LeaseCodec.ToFields(lease, Mac));

        Assert.That(fields, Is.EqualTo(Text(
            "k", "jwt", "au", "aud", "ac", "act", "i", "1790000000000",
            "cj", "jkt-only", "hm").Append(fields[^3]).Concat(Text("fx", "sha256:" + new string('B', 64)))));
        Assert.That(Mac.Verify(Encoding.UTF8.GetString(fields[^3]), LeaseCodec.BoundHandleMacPurpose, "lease_bare", "jwt", "lease_bare", "jkt-only", ""), Is.True);
    }

    [Test]
    public void Lists_join_as_string_join_does_empty_items_included_and_facts_in_key_order()
    {
        string[][] lists = [["", "x", ""], [""], ["a", "b", "c", "d"], ["é", "ü"]];
        var lease = Bare("lease_l") with
        {
            AgentFacts = new Dictionary<string, string> { ["b"] = "2", ["c"] = "", ["a"] = "1", ["B"] = "3" },
        };

        Assert.Multiple(() =>
        {
            foreach (var list in lists)
            {
                var fields = LeaseCodec.ToFields(lease with { Scope = lease.Scope with { Tools = list } }, Mac);
                Assert.That((string?)fields[Array.IndexOf(fields, (RedisValue)"to") + 1], Is.EqualTo(string.Join('\u001f', list)));
            }

            var all = LeaseCodec.ToFields(lease, Mac);
            Assert.That((string?)all[Array.IndexOf(all, (RedisValue)"af") + 1], Is.EqualTo(string.Join('\u001f', "B", "3", "a", "1", "b", "2", "c", "")));
            // Facts in any other dictionary type (a lease read back, a caller's own) join the same way.
            var other = LeaseCodec.ToFields(lease with { AgentFacts = new ReadOnlyDictionary<string, string>(lease.AgentFacts.ToDictionary()) }, Mac);
            Assert.That((string?)other[Array.IndexOf(other, (RedisValue)"af") + 1], Is.EqualTo(string.Join('\u001f', "B", "3", "a", "1", "b", "2", "c", "")));
        });
    }

    // Not [TestCase]: a control character in a test name upsets test filtering.
    [TestCase(0)]
    [TestCase(1)]
    public void A_list_value_holding_the_separator_is_refused(int variant)
    {
        var bad = variant == 0 ? "tool\u001f" : "\u001f";
        var lease = Bare("lease_x") with { Scope = new GrantedScope("aud", "act", ["ok"], ["ok"]) };

        Assert.Multiple(() =>
        {
            Assert.DoesNotThrow(() => LeaseCodec.EnsureStorable(lease));
            foreach (var bent in new[]
            {
                lease with { Scope = lease.Scope with { Tools = ["ok", bad] } },
                lease with { Scope = lease.Scope with { Resources = [bad] } },
                lease with { RuleIds = [bad] },
                lease with { AgentFacts = new Dictionary<string, string> { [bad] = "v" } },
                lease with { AgentFacts = new Dictionary<string, string> { ["k"] = bad } },
                lease with { AgentFacts = new ReadOnlyDictionary<string, string>(new Dictionary<string, string> { [bad] = "v" }) },
                lease with { AgentFacts = new ReadOnlyDictionary<string, string>(new Dictionary<string, string> { ["k"] = bad }) },
            })
            {
                Assert.Throws<ArgumentException>(() => LeaseCodec.EnsureStorable(bent));
            }
        });
    }

    /// <summary>
    /// A lease with only its required fields, short values, its handle its id, issued and expiring at <see cref="Issued"/>:
    /// each test adds with <c>with</c> just what it is about, so what differs between the golden leases is what is written.
    /// </summary>
    private static Lease Bare(string leaseId) => new()
    {
        LeaseId = leaseId,
        TaskId = "t",
        AgentId = "a",
        IssuerKind = "jwt",
        BackendHandle = leaseId,
        Scope = new GrantedScope("aud", "act", [], []),
        IssuedAt = Issued,
        ExpiresAt = Issued,
        CredentialFingerprint = "x",
    };

    private static List<byte[]> Stored(IEnumerable<RedisValue> fields) => [.. fields.Select(v => (byte[])v!)];

    private static IEnumerable<byte[]> Text(params string[] values) => values.Select(Encoding.UTF8.GetBytes);
}
