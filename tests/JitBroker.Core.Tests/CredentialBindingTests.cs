using JitBroker.Core;
using JitBroker.Core.Admission;
using JitBroker.Core.Handlers;
using JitBroker.Leases;
using JitBroker.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;
using NUnit.Framework;

namespace JitBroker.Core.Tests;

/// <summary>
/// DPoP binding end to end through the handlers (RFC 9449 §6.1): admission puts the proof key the transport validated on
/// the identity, the lease keeps it, renewal re-binds to the lease's key whoever asks, and a delegated child is bound
/// to its worker's own key.
/// </summary>
public sealed class CredentialBindingTests
{
    private const string PlannerKey = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
    private const string WorkerKey = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
    private const string OtherKey = "q3NbKQqxd6xEQQXQYQZz4H1Z0JqzQZbq-xYwGRwuKyk";
    private const string Worker = "spiffe://example.org/workers/w1";

    private int _tokens;

    private AttestationEvidence As(string id, string? proofKey) => new($"as:{id}#{Interlocked.Increment(ref _tokens)}", proofKeyThumbprint: proofKey);

    private async Task<CredentialGrantResult> RequestAsync(PipelineFixture f, string? proofKey) =>
        (await f.RequestCredential.HandleAsync(As(PipelineFixture.Agent, proofKey), PipelineFixture.Request(ttl: TimeSpan.FromMinutes(5)))).Granted!;

    [Test]
    public async Task The_proof_key_of_the_evidence_is_minted_into_the_credential_and_kept_on_the_lease()
    {
        var f = new PipelineFixture();

        var granted = await RequestAsync(f, PlannerKey);

        Assert.That(f.Issuer.Agents.Single().ProofKeyThumbprint, Is.EqualTo(PlannerKey));
        Assert.That(granted.Lease.ProofKeyThumbprint, Is.EqualTo(PlannerKey));
        Assert.That((await f.Leases.GetAsync(granted.Lease.LeaseId))!.ProofKeyThumbprint, Is.EqualTo(PlannerKey));
    }

    [Test]
    public async Task Evidence_without_a_proof_key_gives_an_unbound_credential()
    {
        var f = new PipelineFixture();

        var granted = await RequestAsync(f, proofKey: null);

        Assert.That(f.Issuer.Agents.Single().ProofKeyThumbprint, Is.Null);
        Assert.That(granted.Lease.ProofKeyThumbprint, Is.Null);
    }

    [TestCase(null, null, TestName = "An attestor cannot bind an identity to a proof key")]
    [TestCase(WorkerKey, WorkerKey, TestName = "Only the transport's proof key binds, whatever the attestor says")]
    public async Task Admission_takes_the_binding_from_the_evidence_never_from_the_attestor(string? evidenceKey, string? expected)
    {
        var attestor = new Mock<IWorkloadAttestor>();
        attestor.SetupGet(a => a.Method).Returns("test");
        attestor.Setup(a => a.Accepts(It.IsAny<AttestationEvidence>())).Returns(true);
        attestor.Setup(a => a.AttestAsync(It.IsAny<AttestationEvidence>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync(PipelineFixture.Identity(PipelineFixture.Agent, "t") with { ProofKeyThumbprint = OtherKey });
        var time = TestClock.Create();
        var audit = new BestEffortAudit(new CapturingAuditLog(), NullLogger<BestEffortAudit>.Instance);
        var admission = new AgentAdmission(new AttestorRegistry([attestor.Object]), new ReplayGuard(new InMemoryReplayCache(time), new BrokerOptions(), time),
            new InMemoryKillSwitch(), audit, new BrokerMetrics(),
            new AttestationFailureSummary(audit, new AdmissionOptions(), time, NullLogger<AttestationFailureSummary>.Instance), time);

        var identity = await admission.AttestAsync(new AttestationEvidence("t", proofKeyThumbprint: evidenceKey));

        Assert.That(identity.ProofKeyThumbprint, Is.EqualTo(expected));
    }

    [TestCase("", TestName = "An empty proof key thumbprint is refused")]
    [TestCase("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4", TestName = "A 42-character proof key thumbprint is refused")]
    [TestCase("0ZcOCORZNYy+DWpqq30jZyJGHTN0d2HglBV3uiguA4I", TestName = "A base64 (not base64url) proof key thumbprint is refused")]
    [TestCase("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4J", TestName = "A proof key thumbprint with non-zero padding bits is refused")]
    [TestCase("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I=", TestName = "A padded proof key thumbprint is refused")]
    [TestCase("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4\u00cf", TestName = "A non-ASCII proof key thumbprint is refused")]
    public void A_malformed_proof_key_thumbprint_is_refused_before_anything_is_minted(string thumbprint)
    {
        var f = new PipelineFixture();

        var e = Assert.ThrowsAsync<BrokerException>(() => RequestAsync(f, thumbprint));

        Assert.That((e!.Failure, e.Reason), Is.EqualTo((BrokerFailure.InvalidArgument, Reasons.RequestInvalid)));
        Assert.That(f.Issuer.Agents, Is.Empty);
    }

    [TestCase(PlannerKey, TestName = "Renewal with the same proof key keeps the lease's binding")]
    [TestCase(OtherKey, TestName = "Renewal with another proof key keeps the lease's binding")]
    [TestCase(null, TestName = "Renewal without a proof key keeps the lease's binding")]
    public async Task Renewal_re_binds_the_replacement_to_the_leases_proof_key(string? renewingKey)
    {
        var f = new PipelineFixture();
        var granted = await RequestAsync(f, PlannerKey);
        f.Time.Advance(TimeSpan.FromMinutes(1));

        var renewed = await f.RenewCredential.HandleAsync(As(PipelineFixture.Agent, renewingKey), granted.Lease.LeaseId, TimeSpan.FromMinutes(5));

        Assert.That(f.Issuer.Agents[^1].ProofKeyThumbprint, Is.EqualTo(PlannerKey), "never silently unbound, never re-bound to another key");
        Assert.That(renewed.Lease.ProofKeyThumbprint, Is.EqualTo(PlannerKey));
    }

    [Test]
    public async Task Renewing_an_unbound_lease_with_a_proof_key_does_not_bind_it_behind_the_leases_back()
    {
        var f = new PipelineFixture();
        var granted = await RequestAsync(f, proofKey: null);
        f.Time.Advance(TimeSpan.FromMinutes(1));

        await f.RenewCredential.HandleAsync(As(PipelineFixture.Agent, PlannerKey), granted.Lease.LeaseId, TimeSpan.FromMinutes(5));

        Assert.That(f.Issuer.Agents[^1].ProofKeyThumbprint, Is.Null, "the replacement is bound as the lease is: the ledger and the token agree");
    }

    [Test]
    public async Task Renewal_keeps_the_leases_certificate_binding_and_falls_back_to_the_callers_for_a_lease_without_one()
    {
        var lease = new Lease
        {
            LeaseId = "lease-x", TaskId = "t1", AgentId = PipelineFixture.Agent, IssuerKind = "test", BackendHandle = "lease-x",
            Scope = new GrantedScope("aud", "read", [], []), IssuedAt = DateTimeOffset.UnixEpoch, ExpiresAt = DateTimeOffset.UnixEpoch.AddMinutes(1),
            CredentialFingerprint = "sha256:00", CertificateThumbprint = "lease-cert",
        };
        var caller = PipelineFixture.Identity(PipelineFixture.Agent, "t") with { CertificateThumbprint = "caller-cert", ProofKeyThumbprint = OtherKey };

        var kept = RenewCredentialHandler.BoundAsLease(caller, lease);
        var legacy = RenewCredentialHandler.BoundAsLease(caller, lease with { CertificateThumbprint = null });

        Assert.That((kept.CertificateThumbprint, kept.ProofKeyThumbprint), Is.EqualTo(("lease-cert", (string?)null)));
        Assert.That(legacy.CertificateThumbprint, Is.EqualTo("caller-cert"), "a lease recorded before leases kept the binding: as renewal did then");
    }

    [TestCase(WorkerKey, TestName = "A DPoP-bound lease's delegated child is bound to the worker's own proof key")]
    [TestCase(null, TestName = "A DPoP-bound lease's delegated child is unbound when the worker proves no key")]
    public async Task A_delegated_child_is_bound_to_the_workers_proof_key_never_the_parents(string? workerKey)
    {
        var f = new PipelineFixture();
        f.DelegationPolicy.Rules.Add(("spiffe://example.org/**", "spiffe://example.org/workers/*", 3));
        var root = await RequestAsync(f, PlannerKey);
        var (offer, _) = await f.OfferDelegation.HandleAsync(As(PipelineFixture.Agent, PlannerKey), root.Lease.LeaseId, Worker, ["zendesk"], ["tickets/1"],
            TimeSpan.FromMinutes(2));

        var child = await f.DelegateCredential.HandleAsync(As(Worker, workerKey), offer);

        Assert.That(f.Issuer.Agents[^1].Id, Is.EqualTo(Worker));
        Assert.That(f.Issuer.Agents[^1].ProofKeyThumbprint, Is.EqualTo(workerKey));
        Assert.That(child.Lease.ProofKeyThumbprint, Is.EqualTo(workerKey));
    }
}
