using JitBroker.Core;
using JitBroker.Testing;
using Microsoft.Extensions.Time.Testing;
using NUnit.Framework;

namespace JitBroker.Conformance;

/// <summary>
/// The contract of <see cref="ICredentialIssuer"/>, run against every implementation (JWT here; Vault token and
/// Vault secret in JitBroker.Vault.Tests, which links this file): subclass it, return a fresh issuer over a working
/// backend from <see cref="CreateIssuerAsync"/>, and say how to break and mend that backend. Nothing here knows
/// which issuer it is testing. The clock starts mid-second, so an issuer that rounds a lifetime up is caught.
/// </summary>
public abstract class CredentialIssuerConformanceTests
{
    private ICredentialIssuer? _issuer;

    protected static WorkloadIdentity Agent { get; } = new()
    {
        Id = "spiffe://example.org/agents/report-writer",
        TrustDomain = "example.org",
        Method = "jwt-svid",
        EvidenceFingerprint = "sha256:00",
    };

    protected FakeTimeProvider Clock { get; private set; } = null!;

    protected ICredentialIssuer Issuer => _issuer ?? throw new InvalidOperationException("SetUp did not run.");

    /// <summary>Template parameters of a valid, renewable grant for this issuer.</summary>
    protected abstract IReadOnlyDictionary<string, string> Parameters { get; }

    /// <summary>True when renewal hands out a replacement secret (a JWT cannot move its exp); false when the existing one lives on.</summary>
    protected abstract bool RenewalReplacesTheSecret { get; }

    /// <summary>True when revocation has to reach a backend (and so can fail); false when it is bookkeeping only (a signed JWT).</summary>
    protected abstract bool RevocationReachesTheBackend { get; }

    /// <summary>Returns a new issuer whose backend works; called before every test with <see cref="Clock"/> set.</summary>
    protected abstract Task<ICredentialIssuer> CreateIssuerAsync();

    /// <summary>Releases what <see cref="CreateIssuerAsync"/> started.</summary>
    protected virtual Task DestroyIssuerAsync() => Task.CompletedTask;

    /// <summary>From now on every call the issuer makes to its backend (Vault, the signing key) fails.</summary>
    protected abstract void BreakBackend();

    /// <summary>Undoes <see cref="BreakBackend"/>.</summary>
    protected abstract void MendBackend();

    /// <summary>The backend forgets the credential behind its back (expired, or revoked by an operator).</summary>
    protected abstract Task ForgetAtBackendAsync(IssuedCredential credential);

    [SetUp]
    public async Task CreateIssuer()
    {
        Clock = TestClock.Create();
        Clock.Advance(TimeSpan.FromMilliseconds(400));
        _issuer = await CreateIssuerAsync();
    }

    [TearDown]
    public async Task DestroyIssuer()
    {
        await DestroyIssuerAsync();
        _issuer = null;
    }

    protected IssueRequest Request(TimeSpan ttl) =>
        new(LeaseIds.New(), Agent, "task-42", new Grant(Issuer.Kind, new GrantedScope("https://db.example/reports", "db.read", ["psql"], ["db/reports"]), ttl, Parameters));


    private async Task<(Lease Lease, IssuedCredential Credential)> IssueAsync(TimeSpan ttl)
    {
        var request = Request(ttl);
        var credential = await Issuer.IssueAsync(request);
        return (IssuedLeases.For(request, credential), credential);
    }

    [TestCase(1)]
    [TestCase(90.7)]
    [TestCase(600)]
    public async Task The_lifetime_granted_never_exceeds_the_ttl_asked(double seconds)
    {
        var asked = TimeSpan.FromSeconds(seconds);
        var now = Clock.GetUtcNow();

        var credential = await Issuer.IssueAsync(Request(asked));

        Assert.Multiple(() =>
        {
            Assert.That(credential.Kind, Is.EqualTo(Issuer.Kind));
            Assert.That(credential.ExpiresAt, Is.LessThanOrEqualTo(now + asked), "granted ≤ asked");
            Assert.That(credential.ExpiresAt, Is.GreaterThan(now), "a credential that is dead on arrival was handed out");
            Assert.That(credential.IssuedAt, Is.LessThanOrEqualTo(now));
            Assert.That(credential.BackendHandle, Is.Not.Empty.And.Not.EqualTo(credential.Secret), "the lease keeps a handle, never the secret");
            Assert.That(credential.ToString(), Does.Not.Contain(credential.Secret));
        });
    }

    [Test]
    public void A_lifetime_under_one_second_is_refused_with_a_reason_and_nothing_is_minted()
    {
        var ex = Assert.ThrowsAsync<BrokerException>(async () => await Issuer.IssueAsync(Request(TimeSpan.FromMilliseconds(900))));

        Assert.That(ex!.Failure, Is.EqualTo(BrokerFailure.FailedPrecondition));
        Assert.That(ex.Reason, Is.Not.Empty);
    }

    [Test]
    public async Task Revoking_twice_is_done_both_times()
    {
        var (lease, _) = await IssueAsync(TimeSpan.FromMinutes(5));

        var first = await Issuer.RevokeAsync(lease);
        var second = await Issuer.RevokeAsync(lease);

        Assert.That(first.IsDone, Is.True, first.Error);
        Assert.That(second.IsDone, Is.True, "revocation is idempotent: " + second.Error);
    }

    [Test]
    public async Task A_credential_the_backend_already_forgot_counts_as_revoked()
    {
        var (lease, credential) = await IssueAsync(TimeSpan.FromMinutes(5));
        await ForgetAtBackendAsync(credential);

        var result = await Issuer.RevokeAsync(lease);

        Assert.That(result.IsDone, Is.True, "already gone counts as done: " + result.Error);
    }

    [Test]
    public async Task A_handle_the_backend_never_issued_counts_as_revoked()
    {
        var (lease, _) = await IssueAsync(TimeSpan.FromMinutes(5));

        var result = await Issuer.RevokeAsync(lease with { BackendHandle = lease.BackendHandle + "-unknown" });

        Assert.That(result.IsDone, Is.True, result.Error);
    }

    [Test]
    public async Task A_backend_failure_during_revocation_is_reported_not_thrown_and_a_retry_after_recovery_succeeds()
    {
        var (lease, credential) = await IssueAsync(TimeSpan.FromMinutes(5));
        BreakBackend();

        var failed = await Issuer.RevokeAsync(lease);
        MendBackend();
        var retried = await Issuer.RevokeAsync(lease);

        Assert.Multiple(() =>
        {
            if (RevocationReachesTheBackend)
            {
                Assert.That(failed.Status, Is.EqualTo(RevocationStatus.Failed));
                Assert.That(failed.Error, Is.Not.Null.And.Not.Empty, "the revoke_failed view needs a reason");
                Assert.That(failed.Error, Does.Not.Contain(credential.Secret));
            }
            else
            {
                Assert.That(failed.IsDone, Is.True, "revocation without a backend cannot fail on one");
            }

            Assert.That(retried.IsDone, Is.True, retried.Error);
        });
    }

    [Test]
    public async Task A_backend_failure_during_issuance_is_a_broker_exception_naming_no_secret()
    {
        BreakBackend();

        var ex = Assert.CatchAsync(async () => await Issuer.IssueAsync(Request(TimeSpan.FromMinutes(5))));

        Assert.That(ex, Is.TypeOf<BrokerException>(), ex?.ToString());
        var broker = (BrokerException)ex!;
        Assert.That(broker.Failure, Is.AnyOf(BrokerFailure.Unavailable, BrokerFailure.Internal));
        Assert.That(broker.Reason, Is.Not.Empty);
    }

    [Test]
    public async Task Renewal_grants_at_most_the_expiry_asked_and_says_whether_the_secret_changed()
    {
        var (lease, credential) = await IssueAsync(TimeSpan.FromMinutes(10));
        // Half a second into the second and 0.3 s past a whole increment: rounding the increment up overshoots.
        Clock.Advance(TimeSpan.FromSeconds(120.1));
        var now = Clock.GetUtcNow();
        var asked = now + TimeSpan.FromSeconds(300.3);

        var renewed = await Issuer.RenewAsync(lease, Agent, asked);

        Assert.Multiple(() =>
        {
            Assert.That(renewed.ExpiresAt, Is.LessThanOrEqualTo(asked), "granted ≤ asked");
            Assert.That(renewed.ExpiresAt, Is.GreaterThan(now));
            if (RenewalReplacesTheSecret)
            {
                Assert.That(renewed.NewSecret, Is.Not.Null.And.Not.EqualTo(credential.Secret));
                Assert.That(renewed.Fingerprint, Is.EqualTo(Fingerprints.Of(renewed.NewSecret!)));
            }
            else
            {
                Assert.That(renewed.NewSecret, Is.Null, "the existing secret stays valid; no new one is handed out");
                Assert.That(renewed.Fingerprint, Is.Null);
            }

            Assert.That(renewed.ToString(), Does.Not.Contain(credential.Secret));
        });
    }

    [Test]
    public async Task Renewal_to_an_expiry_not_in_the_future_is_refused_as_a_failed_precondition()
    {
        var (lease, _) = await IssueAsync(TimeSpan.FromMinutes(10));

        var ex = Assert.ThrowsAsync<BrokerException>(async () => await Issuer.RenewAsync(lease, Agent, Clock.GetUtcNow() - TimeSpan.FromSeconds(1)));

        Assert.That(ex!.Failure, Is.EqualTo(BrokerFailure.FailedPrecondition));
    }

    [Test]
    public async Task Renewal_of_a_revoked_credential_is_refused_by_a_backend_that_tracks_it()
    {
        var (lease, _) = await IssueAsync(TimeSpan.FromMinutes(10));
        await Issuer.RevokeAsync(lease);

        if (RevocationReachesTheBackend)
        {
            var ex = Assert.ThrowsAsync<BrokerException>(async () => await Issuer.RenewAsync(lease, Agent, Clock.GetUtcNow() + TimeSpan.FromMinutes(5)));
            Assert.That(ex!.Failure, Is.EqualTo(BrokerFailure.FailedPrecondition), "a dead credential cannot be brought back");
        }
        else
        {
            // No backend state: the broker's ledger (lease state) is what refuses a revoked lease's renewal.
            var renewed = await Issuer.RenewAsync(lease, Agent, Clock.GetUtcNow() + TimeSpan.FromMinutes(5));
            Assert.That(renewed.NewSecret, Is.Not.Null);
        }
    }

    [Test]
    public async Task A_backend_failure_during_renewal_is_a_broker_exception()
    {
        var (lease, _) = await IssueAsync(TimeSpan.FromMinutes(10));
        BreakBackend();

        var ex = Assert.CatchAsync(async () => await Issuer.RenewAsync(lease, Agent, Clock.GetUtcNow() + TimeSpan.FromMinutes(5)));

        Assert.That(ex, Is.TypeOf<BrokerException>(), ex?.ToString());
        Assert.That(((BrokerException)ex!).Failure, Is.AnyOf(BrokerFailure.Unavailable, BrokerFailure.Internal));
    }
}
