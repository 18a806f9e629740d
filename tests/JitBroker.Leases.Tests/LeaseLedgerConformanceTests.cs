using JitBroker.Core;
using JitBroker.Testing;
using NUnit.Framework;

namespace JitBroker.Leases.Tests;

/// <summary>The contract of <see cref="ILeaseLedger"/> (what the request path records and reads), for every store.</summary>
public abstract class LeaseLedgerConformanceTests : LeaseStoreSuite
{
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

    [TestCase("alice@example.com")]
    [TestCase("Team Ops — on call")]
    [TestCase(null)]
    public async Task Put_then_get_round_trips_the_owner(string? owner)
    {
        var lease = NewLease(TimeSpan.FromMinutes(5)) with { Owner = owner };

        await Store.PutAsync(lease);
        var stored = await GetAsync(lease.LeaseId);

        Assert.That(stored.Owner, Is.EqualTo(owner));
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
    public async Task Agent_facts_and_every_optional_shape_round_trip()
    {
        var facts = new Dictionary<string, string> { ["trust_domain"] = "dev.local", ["k8s.namespace"] = "agents", ["empty"] = "" };
        var lease = NewLease(TimeSpan.FromMinutes(5), leaseId: "lease-facts") with
        {
            AgentFacts = facts,
            BackendHandle = "lease-facts", // the JWT issuer's jti is the lease id
            CredentialFingerprint = "vault-accessor-fp:ABC",
            Scope = new GrantedScope("aud", "write", [], [""]),
            RuleIds = [],
        };

        await Store.PutAsync(lease);
        var stored = await GetAsync("lease-facts");

        Assert.That(stored.AgentFacts, Is.EquivalentTo(facts));
        Assert.That((stored.BackendHandle, stored.CredentialFingerprint), Is.EqualTo(("lease-facts", "vault-accessor-fp:ABC")));
        Assert.That((stored.Scope.Tools, stored.Scope.Resources, stored.RuleIds), Is.EqualTo((Array.Empty<string>(), new[] { "" }, Array.Empty<string>())));
        Assert.That(stored.ParentLeaseId, Is.Null);
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
        await Store.MarkOneRevokedAsync(second.LeaseId, T0);

        var leases = await Store.ListByTaskAsync("spiffe://dev.local/agent/a", "task-1");

        Assert.That(Ids(leases), Is.EquivalentTo(new[] { first.LeaseId, second.LeaseId }));
        Assert.That(await Store.ListByTaskAsync("spiffe://dev.local/agent/c", "task-1"), Is.Empty);
    }

    [Test]
    public async Task Children_are_the_direct_delegations_in_any_state()
    {
        // Delegated ids are placed with their parent, as the broker places them (a sharded store needs it).
        var parent = LeaseIds.New();
        var placed = Enumerable.Range(0, 3).Select(_ => LeaseIds.New(LeaseIds.PlacementOf(parent))).Order(StringComparer.Ordinal).ToArray();
        string child1 = placed[0], child2 = placed[1], grandchild = placed[2];
        await PutWithIdAsync(parent, TimeSpan.FromMinutes(5));
        await PutWithIdAsync(child2, TimeSpan.FromMinutes(5), parent: parent);
        await PutWithIdAsync(child1, TimeSpan.FromMinutes(5), parent: parent);
        await PutWithIdAsync(grandchild, TimeSpan.FromMinutes(5), parent: child1);
        await Store.MarkOneRevokedAsync(child2, T0);

        var children = await Store.ListChildrenAsync(parent);

        Assert.That(Ids(children), Is.EqualTo(new[] { child1, child2 }));
        Assert.That(children[1].State, Is.EqualTo(LeaseState.Revoked));
        Assert.That(await Store.ListChildrenAsync(grandchild), Is.Empty);
    }

    [Test]
    public async Task Renew_moves_expiry_and_due_time_and_records_the_new_fingerprint()
    {
        var lease = await PutAsync(TimeSpan.FromMinutes(1));
        var newExpiry = T0 + TimeSpan.FromMinutes(10);
        var newFingerprint = "sha256:" + new string('b', 64);

        var renewed = await Store.RenewAsync(lease.LeaseId, newExpiry, newFingerprint);
        var stored = await GetAsync(lease.LeaseId);

        Assert.That(renewed, Is.Not.Null);
        Assert.That((stored.ExpiresAt, stored.DueAt, stored.CredentialFingerprint, stored.State),
            Is.EqualTo((newExpiry, (DateTimeOffset?)newExpiry, newFingerprint, LeaseState.Active)));
        Assert.That((renewed!.ExpiresAt, renewed.CredentialFingerprint), Is.EqualTo((newExpiry, newFingerprint)));
        Assert.That(await Store.ClaimDueAsync(T0 + TimeSpan.FromMinutes(5), 10, ClaimTimeout), Is.Empty, "no longer due at the old expiry");
        await AssertDueExactlyAtAsync(newExpiry, lease.LeaseId);
    }

    [Test]
    public async Task Only_active_leases_can_be_renewed()
    {
        var revoked = await PutAsync(TimeSpan.FromMinutes(1));
        var claimed = await PutAsync(TimeSpan.FromMinutes(1));
        var failed = await PutAsync(TimeSpan.FromMinutes(1));
        await Store.MarkOneRevokedAsync(revoked.LeaseId, T0);
        await Store.TryClaimAsync(claimed.LeaseId, T0, ClaimTimeout);
        await Store.MarkRevokeFailedAsync(failed.LeaseId, "down", T0 + TimeSpan.FromMinutes(2));
        var later = T0 + TimeSpan.FromHours(1);

        Assert.That(await Store.RenewAsync(revoked.LeaseId, later, "sha256:x"), Is.Null);
        Assert.That(await Store.RenewAsync(claimed.LeaseId, later, "sha256:x"), Is.Null);
        Assert.That(await Store.RenewAsync(failed.LeaseId, later, "sha256:x"), Is.Null);
        Assert.That(await Store.RenewAsync("lease-never-stored", later, "sha256:x"), Is.Null);
        Assert.That((await GetAsync(revoked.LeaseId)).ExpiresAt, Is.EqualTo(revoked.ExpiresAt));
    }

    [TestCase("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I", null, TestName = "A DPoP binding round-trips and survives renewal")]
    [TestCase(null, "q3NbKQqxd6xEQQXQYQZz4H1Z0JqzQZbq-xYwGRwuKyk", TestName = "A certificate binding round-trips and survives renewal")]
    [TestCase("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I", "q3NbKQqxd6xEQQXQYQZz4H1Z0JqzQZbq-xYwGRwuKyk", TestName = "Both bindings round-trip and survive renewal")]
    [TestCase(null, null, TestName = "An unbound lease reads back unbound, also after renewal")]
    public async Task The_credential_binding_round_trips_and_survives_renewal(string? jkt, string? x5t)
    {
        // Renewal re-issues the credential with the binding stored here, so losing it would silently unbind the token.
        var lease = NewLease(TimeSpan.FromMinutes(1)) with { ProofKeyThumbprint = jkt, CertificateThumbprint = x5t };
        await Store.PutAsync(lease);

        var stored = await GetAsync(lease.LeaseId);
        var renewed = await Store.RenewAsync(lease.LeaseId, T0 + TimeSpan.FromMinutes(10), "sha256:" + new string('c', 64));
        var afterRenewal = await GetAsync(lease.LeaseId);

        Assert.Multiple(() =>
        {
            Assert.That((stored.ProofKeyThumbprint, stored.CertificateThumbprint), Is.EqualTo((jkt, x5t)));
            Assert.That((renewed!.ProofKeyThumbprint, renewed.CertificateThumbprint), Is.EqualTo((jkt, x5t)));
            Assert.That((afterRenewal.ProofKeyThumbprint, afterRenewal.CertificateThumbprint), Is.EqualTo((jkt, x5t)));
            Assert.That(afterRenewal.BackendHandleUntrusted, Is.False, "the broker's own record of a binding is trusted");
        });
    }
}
