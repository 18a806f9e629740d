using JitBroker.Core;
using JitBroker.Core.Handlers;
using JitBroker.Leases;
using JitBroker.Testing;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;

namespace JitBroker.Core.Tests;

/// <summary>
/// The broker over a real in-memory lease store, a scriptable policy and a recording issuer: for flows that
/// span several calls (approvals, renewal, cascade, re-evaluation).
/// </summary>
internal sealed class PipelineFixture
{
    public const string Agent = "spiffe://example.org/agents/worker";
    public const string Human = "spiffe://example.org/humans/alice";

    /// <summary>A tool configured as a resource server: it may introspect any task credential.</summary>
    public const string ResourceServer = "spiffe://example.org/tools/tickets";

    private int _tokens;

    public FakeTimeProvider Time { get; } = TestClock.Create();
    public ILeaseStore Leases { get; }
    public RecordingIssuer Issuer { get; }
    public InMemoryKillSwitch KillSwitch { get; } = new();
    public InMemoryApprovalStore ApprovalStore { get; } = new();
    public CapturingAuditLog Audit { get; } = new();
    public FakeOfferCodec Offers { get; } = new();
    public FakeDelegationPolicy DelegationPolicy { get; } = new();
    public BrokerOptions Options { get; } = new();
    public BrokerMetrics Metrics { get; } = new();
    public Func<WorkloadIdentity, CredentialRequest, PolicyDecision> Decide { get; set; }
    /// <summary>What the scripted policy says it reads of an intent (what leases keep of it).</summary>
    public IntentInputs Reads { get; set; } = IntentInputs.Everything;
    public string CurrentAgent { get; set; } = Agent;
    public LeaseRevoker Revoker { get; }
    public ApprovalService Approvals { get; }
    public QuotaGuard Quotas { get; }

    // The use cases, wired as the host wires them (BrokerServices).
    public RequestCredentialHandler RequestCredential { get; }
    public EndTaskHandler EndTask { get; }
    public IntrospectionHandler Introspection { get; }
    public RenewCredentialHandler RenewCredential { get; }
    public OfferDelegationHandler OfferDelegation { get; }
    public DelegateCredentialHandler DelegateCredential { get; }
    public AdminAuthorization AdminAuthorization { get; }
    public ReportUsesHandler ReportUses { get; }

    /// <summary>Who may report uses: <see cref="ResourceServer"/> for "aud" (the audience of <see cref="Request"/>), another tool for "other-aud".</summary>
    public ToolUseOptions ToolUses { get; } = new()
    {
        ResourceServers =
        [
            new ToolResourceServer { Identity = ResourceServer, Audiences = ["aud"] },
            new ToolResourceServer { Identity = "spiffe://example.org/tools/billing", Audiences = ["other-aud"] },
        ],
    };

    public AgentAdmission Admission { get; }

    public ReplayGuard ReplayGuard { get; }

    public BestEffortAudit BestEffortAudit { get; }
    public RevokeLeasesHandler RevokeLeases { get; }
    public KillSwitchHandler KillSwitchAdmin { get; }
    public BlockOperations BlockOperations { get; }
    public ApprovalDecisionHandler ApprovalDecisions { get; }

    /// <param name="leases">The ledger (in memory by default).</param>
    /// <param name="ledgerMarkIssuer">The issuer says its revocation is the ledger's mark, as the JWT issuer does: EndTask then revokes in the claim.</param>
    public PipelineFixture(ILeaseStore? leases = null, bool ledgerMarkIssuer = false)
    {
        Leases = leases ?? new InMemoryLeaseStore();
        Issuer = new RecordingIssuer(Time) { RevokedByLedgerMark = ledgerMarkIssuer };
        Decide = (_, r) => Allow(r, TimeSpan.FromMinutes(10));
        var issuers = new IssuerRegistry([Issuer]);
        Revoker = new LeaseRevoker(Leases, issuers, new RetryBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1)), Time, NullLogger<LeaseRevoker>.Instance,
            new RevocationAuditTrail(Audit, NullLogger<RevocationAuditTrail>.Instance));
        Approvals = new ApprovalService(ApprovalStore, Time);
        var attestor = new Moq.Mock<IWorkloadAttestor>();
        attestor.SetupGet(a => a.Method).Returns("test");
        attestor.Setup(a => a.Accepts(Moq.It.IsAny<AttestationEvidence>())).Returns(true);
        attestor.Setup(a => a.AttestAsync(Moq.It.IsAny<AttestationEvidence>(), Moq.It.IsAny<CancellationToken>()))
            .ReturnsAsync((AttestationEvidence e, CancellationToken _) => Identity(e.BearerToken!.StartsWith("as:", StringComparison.Ordinal) ? e.BearerToken[3..].Split('#')[0] : CurrentAgent, e.BearerToken));
        var policy = new Moq.Mock<IPolicyEngine>();
        policy.Setup(p => p.Decide(Moq.It.IsAny<WorkloadIdentity>(), Moq.It.IsAny<CredentialRequest>()))
            .Returns((WorkloadIdentity a, CredentialRequest r) => Decide(a, r));
        policy.As<IPolicyIntentInputs>().SetupGet(p => p.IntentInputs).Returns(() => Reads);
        Schedule = (IRevocationSchedule)Leases;
        var attestors = new AttestorRegistry([attestor.Object]);
        var audit = BestEffortAudit = new BestEffortAudit(Audit, NullLogger<BestEffortAudit>.Instance);
        var replayCache = new InMemoryReplayCache(Time);
        ReplayGuard = new ReplayGuard(replayCache, Options, Time);
        var admission = Admission = new AgentAdmission(attestors, ReplayGuard, KillSwitch, audit, new BrokerMetrics(),
            new JitBroker.Core.Admission.AttestationFailureSummary(audit, new JitBroker.Core.Admission.AdmissionOptions(), Time,
                NullLogger<JitBroker.Core.Admission.AttestationFailureSummary>.Instance), Time);
        var termination = new LeaseTermination(Leases, Revoker, audit, Options, Time);
        var commit = new CredentialCommit(issuers, Leases, KillSwitch, Audit, termination, Options, Time, NullLogger<CredentialCommit>.Instance);
        var usability = new LeaseUsability(Leases, KillSwitch);
        var verifiers = new[] { new FakeVerifier() };
        var delegation = new DelegationRules(verifiers, Leases, DelegationPolicy);
        Quotas = new QuotaGuard(new AgentRateLimiter(Time), audit, Metrics, Options, Time);
        RequestCredential = new RequestCredentialHandler(admission, policy.Object, Approvals, commit, audit, Metrics, Options, Quotas,
            NullLogger<RequestCredentialHandler>.Instance);
        EndTask = new EndTaskHandler(admission, termination, NullLogger<EndTaskHandler>.Instance);
        Introspection = new IntrospectionHandler(admission, verifiers, Leases, usability, Time, new IntrospectionOptions { ResourceServers = ["spiffe://example.org/tools/*"] });
        RenewCredential = new RenewCredentialHandler(admission, Leases, usability, policy.Object, delegation, issuers, commit, Options, Time);
        OfferDelegation = new OfferDelegationHandler(admission, Leases, usability, delegation, audit, Options, Time, Offers);
        DelegateCredential = new DelegateCredentialHandler(admission, Leases, usability, delegation, replayCache, commit, Options, Time, Offers);
        AdminAuthorization = new AdminAuthorization(admission, ReplayGuard, KillSwitch, audit,
            new AdminOptions { Principals = ["spiffe://example.org/humans/*"] }, Time);
        var operatorRevocation = new OperatorRevocation(Leases, Leases, Schedule, Audit, Time);
        RevokeLeases = new RevokeLeasesHandler(operatorRevocation, Schedule);
        BlockOperations = new BlockOperations(Schedule, Time);
        KillSwitchAdmin = new KillSwitchHandler(KillSwitch, operatorRevocation, Audit, BlockOperations, Time);
        ApprovalDecisions = new ApprovalDecisionHandler(Approvals, Audit);
        ReportUses = new ReportUsesHandler(admission, new ToolUseChecks(Leases, Time), Audit, audit, ToolUses);
    }

    public IRevocationSchedule Schedule { get; }

    /// <summary>What the sweepers do: claims every due lease and revokes it, until nothing is due. Returns how many.</summary>
    public async Task<int> SweepAsync()
    {
        var total = 0;
        while (true)
        {
            var batch = await Leases.ClaimDueAsync(Time.GetUtcNow(), 1000, Options.RevocationClaimTimeout);
            if (batch.Count == 0)
            {
                return total;
            }

            foreach (var lease in batch)
            {
                await Revoker.RevokeClaimedAsync(lease);
            }

            total += batch.Count;
        }
    }

    /// <summary>Evidence that attests as <paramref name="id"/> (each call a distinct token).</summary>
    public AttestationEvidence As(string id) => new($"as:{id}#{Interlocked.Increment(ref _tokens)}");

    /// <summary>Evidence whose token is unique per call unless <paramref name="token"/> is given.</summary>
    public AttestationEvidence Token(string? token = null) => new(token ?? "token-" + Interlocked.Increment(ref _tokens));

    public static WorkloadIdentity Identity(string id, string token) => new()
    {
        Id = id,
        TrustDomain = "example.org",
        Method = "test",
        EvidenceFingerprint = Fingerprints.Of(token),
        EvidenceExpiresAt = DateTimeOffset.UnixEpoch.AddYears(100),
        ReplayKey = "jti:" + token,
        Facts = new Dictionary<string, string> { ["team"] = "support" },
    };

    public static CredentialRequest Request(string task = "t1", string action = "tickets.create", TimeSpan? ttl = null, params string[] tools) =>
        new(task, new TaskIntent(action, "why", tools.Length == 0 ? ["zendesk"] : tools, ["tickets/1"], new Dictionary<string, string>()), "test", "aud", ttl);

    public static PolicyDecision Allow(CredentialRequest r, TimeSpan ruleMax) =>
        new(DecisionEffect.Allow,
            new Grant("test", new GrantedScope(r.Target, r.Intent.Action, r.Intent.Tools, r.Intent.Resources),
                r.RequestedTtl is { } t && t < ruleMax ? t : ruleMax, new Dictionary<string, string>()),
            ["allow-rule"], "allowed by rule allow-rule");

    public async Task<CredentialGrantResult> IssueAsync(CredentialRequest? request = null) =>
        (await RequestCredential.HandleAsync(Token(), request ?? Request())).Granted!;
}

/// <summary>An issuer that mints opaque tokens and records revocations; can be told to fail.</summary>
internal sealed class RecordingIssuer(TimeProvider time) : ICredentialIssuer
{
    private int _n;

    public string Kind => "test";

    public List<string> Revoked { get; } = [];

    public bool RevokedByLedgerMark { get; init; }

    /// <summary>Real time spent minting, so requests can be caught in flight (a Vault round trip, say).</summary>
    public TimeSpan MintDelay { get; set; }

    /// <summary>Runs while a credential is being minted or renewed: lets a test land a block between the broker's two looks.</summary>
    public Func<Task>? WhileMinting { get; set; }

    /// <summary>Every secret minted or renewed, in order: what would have left the broker had the commit let it.</summary>
    public List<string> Secrets { get; } = [];

    /// <summary>The delegation chain each credential was minted or renewed with (null for a root credential), in order.</summary>
    public List<DelegationChain?> Chains { get; } = [];

    /// <summary>The identity each credential was minted or renewed for (its bindings are what a JWT's cnf carries), in order.</summary>
    public List<WorkloadIdentity> Agents { get; } = [];

    public async ValueTask<IssuedCredential> IssueAsync(IssueRequest request, CancellationToken cancellationToken = default)
    {
        if (MintDelay > TimeSpan.Zero)
        {
            await Task.Delay(MintDelay, cancellationToken);
        }

        if (WhileMinting is { } hook)
        {
            await hook();
        }

        lock (Secrets)
        {
            Chains.Add(request.Delegation);
            Agents.Add(request.Agent);
        }

        var now = time.GetUtcNow();
        // The lease id rides in the token so FakeVerifier can stand in for a signature check.
        return new IssuedCredential(Kind, Remember($"secret-{Interlocked.Increment(ref _n)}.{request.LeaseId}"), request.LeaseId, now, now + request.Grant.Ttl);
    }

    public ValueTask<RevocationResult> RevokeAsync(Lease lease, CancellationToken cancellationToken = default)
    {
        lock (Revoked)
        {
            Revoked.Add(lease.LeaseId);
        }

        return ValueTask.FromResult(RevocationResult.Revoked);
    }

    public async ValueTask<RenewedCredential> RenewAsync(Lease lease, WorkloadIdentity agent, DateTimeOffset newExpiresAt, DelegationChain? delegation = null,
        CancellationToken cancellationToken = default)
    {
        if (WhileMinting is { } hook)
        {
            await hook();
        }

        lock (Secrets)
        {
            Chains.Add(delegation);
            Agents.Add(agent);
        }

        // A replacement token for the same lease, verifiable like a fresh one (a JWT issuer's renewal).
        return new RenewedCredential(newExpiresAt, Remember($"secret-renewed-{Interlocked.Increment(ref _n)}.{lease.LeaseId}"));
    }

    private string Remember(string secret)
    {
        lock (Secrets)
        {
            Secrets.Add(secret);
        }

        return secret;
    }
}

/// <summary>Offers kept in memory behind random handles (the real codec signs them; its tests live with the issuer).</summary>
internal sealed class FakeOfferCodec : IDelegationOfferCodec
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, DelegationOffer> _offers = new();

    public string Encode(DelegationOffer offer)
    {
        var handle = "offer-" + Guid.NewGuid().ToString("N");
        _offers[handle] = offer;
        return handle;
    }

    public DelegationOffer? Decode(string token) => _offers.GetValueOrDefault(token);
}

/// <summary>Delegation rules as a list of (from, to, max depth); default: nobody.</summary>
internal sealed class FakeDelegationPolicy : IDelegationPolicy
{
    public List<(string From, string To, int MaxDepth)> Rules { get; } = [];

    public DelegationDecision Decide(WorkloadIdentity planner, string workerId, string action) =>
        Rules.FirstOrDefault(r => GlobPattern.Parse(r.From).IsMatch(planner.Id) && GlobPattern.Parse(r.To).IsMatch(workerId)) is { From: not null } rule
            ? new DelegationDecision(true, rule.MaxDepth, ["delegate-rule"], "allowed")
            : DelegationDecision.Deny($"no delegation rule lets {planner.Id} delegate to {workerId}");
}

/// <summary>Marks the test issuer's kind as one the broker mints itself (delegable).</summary>
internal sealed class FakeVerifier : ITaskCredentialVerifier
{
    public string Kind => "test";

    /// <summary>Accepts what <see cref="RecordingIssuer"/> mints (the lease id after the dot); the broker still checks the ledger.</summary>
    public TaskCredentialClaims? Verify(string token) =>
        token.StartsWith("secret-", StringComparison.Ordinal) && token.IndexOf('.', StringComparison.Ordinal) is > 0 and var dot
            ? new TaskCredentialClaims(token[(dot + 1)..], "test", "", "", new GrantedScope("aud", "", [], []), DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddYears(100))
            : null;
}
