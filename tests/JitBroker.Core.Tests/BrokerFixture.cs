using JitBroker.Core;
using JitBroker.Core.Admission;
using JitBroker.Core.Handlers;
using JitBroker.Leases;
using JitBroker.Testing;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;

namespace JitBroker.Core.Tests;

/// <summary>The request, EndTask and introspection handlers over mocks, for tests of the pipeline's own rules.</summary>
internal sealed class BrokerFixture
{
    public const string AgentId = "spiffe://example.org/agents/a";
    public const string Token = "header.payload.signature";

    public FakeTimeProvider Time { get; } = TestClock.Create();
    public Mock<IWorkloadAttestor> Attestor { get; } = new(MockBehavior.Strict);
    public Mock<IPolicyEngine> Policy { get; } = new(MockBehavior.Strict);
    public Mock<ICredentialIssuer> Issuer { get; } = new(MockBehavior.Strict);
    public Mock<ILeaseStore> Leases { get; } = new(MockBehavior.Strict);
    public Mock<ITaskCredentialVerifier> Verifier { get; } = new(MockBehavior.Strict);
    public BrokerOptions Options { get; } = new();
    public InMemoryReplayCache Replay { get; }
    public InMemoryKillSwitch KillSwitch { get; } = new();
    public InMemoryApprovalStore Approvals { get; } = new();
    public CapturingAuditLog Audit { get; } = new();
    public AdmissionOptions AdmissionOptions { get; } = new();
    public AttestationFailureSummary Failures { get; }

    public BrokerFixture()
    {
        Replay = new InMemoryReplayCache(Time);
        Failures = new AttestationFailureSummary(new BestEffortAudit(Audit, NullLogger<BestEffortAudit>.Instance), AdmissionOptions, Time,
            NullLogger<AttestationFailureSummary>.Instance);
        Attestor.SetupGet(a => a.Method).Returns("test");
        Attestor.Setup(a => a.Accepts(It.IsAny<AttestationEvidence>())).Returns(true);
        Attestor.Setup(a => a.AttestAsync(It.IsAny<AttestationEvidence>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync(Identity(AgentId));
        Issuer.SetupGet(i => i.Kind).Returns("jwt");
        // A backend that must be told: EndTask claims, revokes at the issuer, then marks (the ledger-mark path has its own tests).
        Issuer.SetupGet(i => i.RevokedByLedgerMark).Returns(false);
        Verifier.SetupGet(v => v.Kind).Returns("jwt");
    }

    public static WorkloadIdentity Identity(string id, string? replayKey = "jti:test|1") => new()
    {
        Id = id,
        TrustDomain = "example.org",
        Method = "test",
        EvidenceFingerprint = "sha256:00",
        EvidenceExpiresAt = DateTimeOffset.UnixEpoch.AddYears(100),
        ReplayKey = replayKey,
    };

    /// <summary>Each call attests as a fresh token (new jti), like an agent that fetches a new SVID per call.</summary>
    public void FreshTokenPerCall(string agentId = AgentId)
    {
        var n = 0;
        Attestor.Setup(a => a.AttestAsync(It.IsAny<AttestationEvidence>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync(() => Identity(agentId, "jti:test|" + Interlocked.Increment(ref n)));
    }

    public static CredentialRequest Request(string task = "task-1", TimeSpan? ttl = null, string kind = "") =>
        new(task, new TaskIntent("tickets.create", "triage", ["zendesk"], ["tickets/1"], new Dictionary<string, string>()), kind, "https://tickets", ttl);

    public static Grant Grant(TimeSpan ttl) =>
        new("jwt", new GrantedScope("https://tickets", "tickets.create", ["zendesk"], ["tickets/1"]), ttl, new Dictionary<string, string>());

    public RequestCredentialHandler RequestHandler() =>
        new(Admission(), Policy.Object, new ApprovalService(Approvals, Time), Commit(),
            new BestEffortAudit(Audit, NullLogger<BestEffortAudit>.Instance), new BrokerMetrics(), Options,
            new QuotaGuard(new AgentRateLimiter(Time), new BestEffortAudit(Audit, NullLogger<BestEffortAudit>.Instance), new BrokerMetrics(), Options, Time),
            NullLogger<RequestCredentialHandler>.Instance);

    public CredentialCommit Commit() => new(Issuers(), Leases.Object, KillSwitch, Audit, Termination(), Options, Time, NullLogger<CredentialCommit>.Instance);

    public EndTaskHandler EndTaskHandler() =>
        new(Admission(), Termination(), NullLogger<EndTaskHandler>.Instance);

    /// <summary>The caller the mock attests is a resource server here: these tests are about the answer, not who may ask.</summary>
    public IntrospectionOptions IntrospectionOptions { get; } = new() { ResourceServers = [AgentId] };

    public IntrospectionHandler IntrospectionHandler() =>
        new(Admission(), [Verifier.Object], Leases.Object, new LeaseUsability(Leases.Object, KillSwitch), Time, IntrospectionOptions);

    private IssuerRegistry Issuers() => new([Issuer.Object]);

    private AgentAdmission Admission() =>
        new(new AttestorRegistry([Attestor.Object]), new ReplayGuard(Replay, Options, Time), KillSwitch,
            new BestEffortAudit(Audit, NullLogger<BestEffortAudit>.Instance), new BrokerMetrics(), Failures, Time);

    private LeaseTermination Termination() =>
        new(Leases.Object, new LeaseRevoker(Leases.Object, Issuers(), new RetryBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1), () => 0.5),
            Time, NullLogger<LeaseRevoker>.Instance), new BestEffortAudit(Audit, NullLogger<BestEffortAudit>.Instance), Options, Time);

    public void AllowWith(TimeSpan ttl) =>
        Policy.Setup(p => p.Decide(It.IsAny<WorkloadIdentity>(), It.IsAny<CredentialRequest>()))
            .Returns(new PolicyDecision(DecisionEffect.Allow, Grant(ttl), ["rule-1"], "allowed by rule rule-1"));

    public void IssueEchoingTtl() =>
        Issuer.Setup(i => i.IssueAsync(It.IsAny<IssueRequest>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((IssueRequest r, CancellationToken _) =>
                new IssuedCredential("jwt", "secret-token-" + r.LeaseId, r.LeaseId, Time.GetUtcNow(), Time.GetUtcNow() + r.Grant.Ttl));

    public static AttestationEvidence Evidence(string? peer = null) => new(Token, peer: peer);
}
