using NUnit.Framework;
using JitBroker.Core;
using Moq;

namespace JitBroker.Core.Tests;

public sealed class DomainPrimitivesTests
{
    [Test]
    public void Lease_ids_are_well_formed_and_unique()
    {
        var ids = Enumerable.Range(0, 10_000).Select(_ => LeaseIds.New()).ToList();
        Assert.That(ids, Is.Unique);
        Assert.That(ids, Has.All.Matches<string>(LeaseIds.IsWellFormed));
        Assert.That(ids[0], Does.Match("^lease_[a-z2-7]{26}$"));
    }

    [Test]
    public void A_lease_id_carries_its_placement_and_stays_an_opaque_well_formed_id()
    {
        foreach (var placement in new[] { 0, 1, 31, 32, 511, 1023 })
        {
            var ids = Enumerable.Range(0, 200).Select(_ => LeaseIds.New(placement)).ToList();
            Assert.That(ids, Has.All.Matches<string>(LeaseIds.IsWellFormed));
            Assert.That(ids.Select(LeaseIds.PlacementOf), Has.All.EqualTo(placement));
            Assert.That(ids, Is.Unique);
        }

        Assert.That(() => LeaseIds.New(LeaseIds.Placements), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => LeaseIds.New(-1), Throws.InstanceOf<ArgumentOutOfRangeException>());
        var random = Enumerable.Range(0, 4000).Select(_ => LeaseIds.PlacementOf(LeaseIds.New())).Distinct().Count();
        Assert.That(random, Is.GreaterThan(900), "New() spreads over the placements");
    }

    [Test]
    public void A_tasks_placement_is_stable_and_any_string_has_one()
    {
        Assert.That(LeaseIds.PlacementFor("spiffe://td/agents/a", "task-1"), Is.EqualTo(LeaseIds.PlacementFor("spiffe://td/agents/a", "task-1")));
        Assert.That(LeaseIds.PlacementFor("", ""), Is.InRange(0, LeaseIds.Placements - 1));
        Assert.That(LeaseIds.PlacementOf("lease-not-well-formed"), Is.InRange(0, LeaseIds.Placements - 1));
        Assert.That(LeaseIds.PlacementOf("lease-not-well-formed"), Is.EqualTo(LeaseIds.PlacementOf("lease-not-well-formed")));
        var spread = Enumerable.Range(0, 5000).Select(i => LeaseIds.PlacementFor("spiffe://td/agents/a", "task-" + i)).Distinct().Count();
        Assert.That(spread, Is.GreaterThan(900), "tasks spread over the placements");
    }

    [TestCase(null)]
    [TestCase("")]
    [TestCase("lease_")]
    [TestCase("lease_AAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [TestCase("lease_aaaaaaaaaaaaaaaaaaaaaaaaa1")]
    [TestCase("token_aaaaaaaaaaaaaaaaaaaaaaaaaa")]
    public void Malformed_lease_ids_are_recognised(string? id) => Assert.That(LeaseIds.IsWellFormed(id), Is.False);

    [Test]
    public void Fingerprint_is_sha256_hex_and_never_the_secret()
    {
        var fp = Fingerprints.Of("abc");
        Assert.That(fp, Is.EqualTo("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    }

    [Test]
    public void Issued_credential_never_prints_its_secret()
    {
        var now = DateTimeOffset.UnixEpoch;
        var c = new IssuedCredential("jwt", "super-secret", "h", now, now.AddMinutes(1));
        Assert.That(c.ToString(), Does.Not.Contain("super-secret"));
        Assert.That(new AttestationEvidence("bearer-secret").ToString(), Does.Not.Contain("bearer-secret"));
    }

    [Test]
    public void Backoff_grows_exponentially_with_jitter_and_is_capped()
    {
        var low = new RetryBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60), () => 0.0);
        var high = new RetryBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60), () => 1.0);
        Assert.Multiple(() =>
        {
            Assert.That(low.DelayFor(1), Is.EqualTo(TimeSpan.FromSeconds(0.5)));
            Assert.That(high.DelayFor(1), Is.EqualTo(TimeSpan.FromSeconds(1)));
            Assert.That(high.DelayFor(4), Is.EqualTo(TimeSpan.FromSeconds(8)));
            Assert.That(high.DelayFor(50), Is.EqualTo(TimeSpan.FromSeconds(60)), "capped");
            Assert.That(low.DelayFor(1000), Is.EqualTo(TimeSpan.FromSeconds(30)), "never collapses to zero");
        });
    }

    [Test]
    public void Registries_refuse_duplicates_and_an_empty_issuer_set()
    {
        var issuer = new Mock<ICredentialIssuer>();
        issuer.SetupGet(i => i.Kind).Returns("jwt");
        Assert.Throws<InvalidOperationException>(() => _ = new IssuerRegistry([issuer.Object, issuer.Object]));
        Assert.Throws<InvalidOperationException>(() => _ = new IssuerRegistry([]));
        var attestor = new Mock<IWorkloadAttestor>();
        attestor.SetupGet(a => a.Method).Returns("jwt-svid");
        Assert.Throws<InvalidOperationException>(() => _ = new AttestorRegistry([attestor.Object, attestor.Object]));
    }

    [Test]
    public void Evidence_no_attestor_accepts_is_unsupported()
    {
        var attestor = new Mock<IWorkloadAttestor>();
        attestor.SetupGet(a => a.Method).Returns("jwt-svid");
        attestor.Setup(a => a.Accepts(It.IsAny<AttestationEvidence>())).Returns(false);
        var ex = Assert.ThrowsAsync<BrokerException>(async () => await new AttestorRegistry([attestor.Object]).AttestAsync(new AttestationEvidence("x")));
        Assert.That(ex!.Reason, Is.EqualTo(Reasons.IdentityUnsupported));
    }

    [Test]
    public void Broker_options_reject_nonsense()
    {
        Assert.That(new BrokerOptions().Validate(), Is.Empty);
        Assert.That(new BrokerOptions { MaxTtl = TimeSpan.FromDays(2) }.Validate(), Is.Not.Empty);
        Assert.That(new BrokerOptions { MinTtl = TimeSpan.Zero }.Validate(), Is.Not.Empty);
        Assert.That(new BrokerOptions { DefaultTtl = TimeSpan.FromHours(1) }.Validate(), Is.Not.Empty);
    }
}
