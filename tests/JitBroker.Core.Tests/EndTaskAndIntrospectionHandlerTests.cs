using NUnit.Framework;
using JitBroker.Core;
using JitBroker.Core.Handlers;
using Moq;

namespace JitBroker.Core.Tests;

public sealed class EndTaskAndIntrospectionHandlerTests
{
    private static Lease LeaseFor(BrokerFixture f, string id, LeaseState state = LeaseState.Active, string token = "tok") => new()
    {
        LeaseId = id,
        TaskId = "task-1",
        AgentId = BrokerFixture.AgentId,
        IssuerKind = "jwt",
        BackendHandle = id,
        Scope = new GrantedScope("aud", "act", [], []),
        IssuedAt = f.Time.GetUtcNow(),
        ExpiresAt = f.Time.GetUtcNow().AddMinutes(5),
        State = state,
        CredentialFingerprint = Fingerprints.Of(token),
    };

    [Test]
    public async Task EndTask_revokes_each_lease_of_the_callers_task_and_reports_outcomes()
    {
        var f = new BrokerFixture();
        var active = LeaseFor(f, "lease_a");
        var revoked = LeaseFor(f, "lease_b", LeaseState.Revoked);
        var failing = LeaseFor(f, "lease_c") with { IssuerKind = "jwt" };
        f.Leases.Setup(l => l.ClaimTaskAsync(BrokerFixture.AgentId, "task-1", It.IsAny<DateTimeOffset>(), It.IsAny<TimeSpan>(), It.IsAny<LedgerRevocation?>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync([
                new TreeClaim("lease_a", active with { State = LeaseState.Revoking }),
                new TreeClaim("lease_b", null),
                new TreeClaim("lease_c", failing with { State = LeaseState.Revoking }),
            ]);
        f.Issuer.Setup(i => i.RevokeAsync(It.Is<Lease>(l => l.LeaseId == "lease_a"), It.IsAny<CancellationToken>())).ReturnsAsync(RevocationResult.Revoked);
        f.Issuer.Setup(i => i.RevokeAsync(It.Is<Lease>(l => l.LeaseId == "lease_c"), It.IsAny<CancellationToken>())).ReturnsAsync(RevocationResult.Failed("backend down"));
        f.Leases.Setup(l => l.MarkRevokedManyAsync(It.Is<IReadOnlyList<string>>(ids => ids.SequenceEqual(new[] { "lease_a" })), It.IsAny<DateTimeOffset>(),
            It.IsAny<string?>(), It.IsAny<CancellationToken>())).ReturnsAsync([true]);
        f.Leases.Setup(l => l.MarkRevokeFailedAsync("lease_c", "backend down", It.IsAny<DateTimeOffset>(), It.IsAny<CancellationToken>())).Returns(Task.CompletedTask);

        var result = await f.EndTaskHandler().HandleAsync(BrokerFixture.Evidence(), "task-1");

        Assert.That(result.Leases.Select(o => (o.LeaseId, o.Outcome)), Is.EqualTo(new[]
        {
            ("lease_a", LeaseOutcomeKind.Revoked),
            ("lease_b", LeaseOutcomeKind.AlreadyRevoked),
            ("lease_c", LeaseOutcomeKind.Failed),
        }));
        Assert.That(result.Leases[2].Error, Is.EqualTo("backend down"));
        f.Leases.Verify(l => l.MarkRevokeFailedAsync("lease_c", "backend down", f.Time.GetUtcNow().AddSeconds(0.75), It.IsAny<CancellationToken>()), Times.Once,
            "first retry is scheduled with backoff (1s step, equal jitter at 0.5 → 0.75s)");
    }

    [Test]
    public async Task EndTask_marks_the_tasks_revocations_in_one_ledger_call_as_the_sweeper_does()
    {
        var f = new BrokerFixture();
        var first = LeaseFor(f, "lease_a");
        var second = LeaseFor(f, "lease_b");
        f.Leases.Setup(l => l.ClaimTaskAsync(BrokerFixture.AgentId, "task-1", It.IsAny<DateTimeOffset>(), It.IsAny<TimeSpan>(), It.IsAny<LedgerRevocation?>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync([new TreeClaim("lease_a", first with { State = LeaseState.Revoking }), new TreeClaim("lease_b", second with { State = LeaseState.Revoking })]);
        f.Issuer.Setup(i => i.RevokeAsync(It.IsAny<Lease>(), It.IsAny<CancellationToken>())).ReturnsAsync(RevocationResult.Revoked);
        f.Leases.Setup(l => l.MarkRevokedManyAsync(It.IsAny<IReadOnlyList<string>>(), It.IsAny<DateTimeOffset>(), It.IsAny<string?>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((IReadOnlyList<string> ids, DateTimeOffset _, string? _, CancellationToken _) => [.. ids.Select(_ => true)]);

        var result = await f.EndTaskHandler().HandleAsync(BrokerFixture.Evidence(), "task-1");

        Assert.That(result.Leases.Select(o => o.Outcome), Has.All.EqualTo(LeaseOutcomeKind.Revoked));
        f.Leases.Verify(l => l.MarkRevokedManyAsync(It.Is<IReadOnlyList<string>>(ids => ids.OrderBy(x => x).SequenceEqual(new[] { "lease_a", "lease_b" })),
            It.IsAny<DateTimeOffset>(), It.IsAny<string?>(), It.IsAny<CancellationToken>()), Times.Once, "LeaseRevoker.RevokeClaimedManyAsync, not one call per lease");
    }

    [Test]
    public void EndTask_of_an_unknown_task_is_not_found()
    {
        var f = new BrokerFixture();
        f.Leases.Setup(l => l.ClaimTaskAsync(BrokerFixture.AgentId, "nope", It.IsAny<DateTimeOffset>(), It.IsAny<TimeSpan>(), It.IsAny<LedgerRevocation?>(), It.IsAny<CancellationToken>())).ReturnsAsync([]);
        var ex = Assert.ThrowsAsync<BrokerException>(() => f.EndTaskHandler().HandleAsync(BrokerFixture.Evidence(), "nope"));
        Assert.That(ex!.Failure, Is.EqualTo(BrokerFailure.NotFound));
    }

    [Test]
    public void EndTask_rejects_a_malformed_task_id()
    {
        var f = new BrokerFixture();
        var ex = Assert.ThrowsAsync<BrokerException>(() => f.EndTaskHandler().HandleAsync(BrokerFixture.Evidence(), "bad task\n"));
        Assert.That(ex!.Failure, Is.EqualTo(BrokerFailure.InvalidArgument));
    }

    [TestCase(LeaseState.Active, 0, true)]
    [TestCase(LeaseState.Revoked, 0, false)]
    [TestCase(LeaseState.Revoking, 0, false)]
    [TestCase(LeaseState.RevokeFailed, 0, false)]
    [TestCase(LeaseState.Active, 6, false)]
    public async Task Introspection_is_active_only_for_a_live_lease(LeaseState state, int minutesLater, bool expected)
    {
        var f = new BrokerFixture();
        var lease = LeaseFor(f, "lease_x", state, token: "the-token");
        f.Verifier.Setup(v => v.Verify("the-token")).Returns(new TaskCredentialClaims("lease_x", "iss", BrokerFixture.AgentId, "task-1",
            lease.Scope, lease.IssuedAt, lease.ExpiresAt));
        f.Leases.Setup(l => l.GetAsync("lease_x", It.IsAny<CancellationToken>())).ReturnsAsync(lease);
        f.Time.Advance(TimeSpan.FromMinutes(minutesLater));

        var result = await f.IntrospectionHandler().HandleAsync(BrokerFixture.Evidence(), "the-token");

        Assert.That(result.Active, Is.EqualTo(expected));
        Assert.That(result.Claims is not null, Is.EqualTo(expected), "inactive answers carry no claims (RFC 7662 §2.2)");
    }

    [Test]
    public async Task Introspection_of_a_token_whose_fingerprint_differs_from_the_lease_is_inactive()
    {
        var f = new BrokerFixture();
        var lease = LeaseFor(f, "lease_x", token: "original");
        f.Verifier.Setup(v => v.Verify("other")).Returns(new TaskCredentialClaims("lease_x", "iss", "s", "t", lease.Scope, lease.IssuedAt, lease.ExpiresAt));
        f.Leases.Setup(l => l.GetAsync("lease_x", It.IsAny<CancellationToken>())).ReturnsAsync(lease);

        Assert.That((await f.IntrospectionHandler().HandleAsync(BrokerFixture.Evidence(), "other")).Active, Is.False);
    }

    [Test]
    public async Task Introspection_of_garbage_and_oversized_tokens_is_inactive()
    {
        var f = new BrokerFixture();
        f.Verifier.Setup(v => v.Verify(It.IsAny<string>())).Returns((TaskCredentialClaims?)null);
        var introspection = f.IntrospectionHandler();

        Assert.That((await introspection.HandleAsync(BrokerFixture.Evidence(), "garbage")).Active, Is.False);
        Assert.That((await introspection.HandleAsync(BrokerFixture.Evidence(), "")).Active, Is.False);
        Assert.That((await introspection.HandleAsync(BrokerFixture.Evidence(), new string('a', 20_000))).Active, Is.False);
        f.Verifier.Verify(v => v.Verify(It.Is<string>(s => s.Length > IntrospectionHandler.MaxTokenLength)), Times.Never);
    }

    [Test]
    public void Introspection_requires_an_attested_caller()
    {
        var f = new BrokerFixture();
        Assert.ThrowsAsync<BrokerException>(() => f.IntrospectionHandler().HandleAsync(new AttestationEvidence(null), "x"));
    }
}
