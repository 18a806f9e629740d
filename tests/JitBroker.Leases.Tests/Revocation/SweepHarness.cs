using JitBroker.Core;
using JitBroker.Revocation;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;

namespace JitBroker.Leases.Tests.Revocation;

/// <summary>
/// A sweeper wired the way the broker wires it — real store, real <see cref="LeaseRevoker"/>, real backoff —
/// with a fake clock and a mocked issuer of kind <c>fake</c>.
/// </summary>
internal sealed class SweepHarness
{
    public static readonly DateTimeOffset T0 = new(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);
    public static readonly TimeSpan InitialDelay = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(60);

    /// <param name="options">Sweeper options (defaults otherwise).</param>
    /// <param name="ledgerMarkIssuer">The issuer says its revocation is the ledger's mark, as the JWT issuer does: the claim then revokes.</param>
    public SweepHarness(RevocationOptions? options = null, bool ledgerMarkIssuer = false)
    {
        Issuer.SetupGet(i => i.Kind).Returns("fake");
        Issuer.SetupGet(i => i.RevokedByLedgerMark).Returns(ledgerMarkIssuer);
        IssuerReturns(RevocationResult.Revoked);
        Options = options ?? new RevocationOptions();
        // Random fixed at 1.0: "equal jitter" then yields the full exponential step, so delays are predictable.
        var backoff = new RetryBackoff(InitialDelay, MaxDelay, () => 1.0);
        Revoker = new LeaseRevoker(Store, new IssuerRegistry([Issuer.Object]), backoff, Time, NullLogger<LeaseRevoker>.Instance);
        Sweeper = new RevocationSweeper(Store, Revoker, Broker, Options, Time, NullLogger<RevocationSweeper>.Instance);
    }

    public FakeTimeProvider Time { get; } = new(T0);

    public FlakyLeaseStore Store { get; } = new(new InMemoryLeaseStore());

    public Mock<ICredentialIssuer> Issuer { get; } = new(MockBehavior.Strict);

    public BrokerOptions Broker { get; } = new() { RevocationClaimTimeout = TimeSpan.FromSeconds(30) };

    public RevocationOptions Options { get; }

    public LeaseRevoker Revoker { get; }

    public RevocationSweeper Sweeper { get; }

    public void IssuerReturns(RevocationResult result) =>
        Issuer.Setup(i => i.RevokeAsync(It.IsAny<Lease>(), It.IsAny<CancellationToken>()))
            .Returns(() => ValueTask.FromResult(result));

    public int RevokeCalls => Issuer.Invocations.Count(i => i.Method.Name == nameof(ICredentialIssuer.RevokeAsync));

    public async Task<Lease> PutAsync(TimeSpan expiresIn, string? leaseId = null)
    {
        var now = Time.GetUtcNow();
        var lease = new Lease
        {
            LeaseId = leaseId ?? "lease-" + Guid.NewGuid().ToString("N"),
            TaskId = "task-1",
            AgentId = "spiffe://dev.local/agent/a",
            IssuerKind = "fake",
            BackendHandle = "jti-1",
            Scope = new GrantedScope("https://tools.example", "read", ["git.clone"], ["repo:acme/app"]),
            IssuedAt = now,
            ExpiresAt = now + expiresIn,
            DueAt = now + expiresIn,
            CredentialFingerprint = "sha256:00",
        };
        await Store.PutAsync(lease);
        return lease;
    }

    public async Task<Lease> GetAsync(string leaseId) =>
        await Store.GetAsync(leaseId) ?? throw new InvalidOperationException($"Lease {leaseId} is missing.");
}
