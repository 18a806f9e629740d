using JitBroker.Core;
using JitBroker.Core.Handlers;
using NUnit.Framework;

namespace JitBroker.Core.Tests;

public sealed class AdministrationTests
{
    [Test]
    public void An_agent_calling_the_admin_api_is_always_denied()
    {
        var f = new PipelineFixture();
        var ex = Assert.ThrowsAsync<BrokerException>(() => f.AdminAuthorization.AuthorizeAsync(f.As(PipelineFixture.Agent)));
        Assert.That(ex!.Failure, Is.EqualTo(BrokerFailure.PermissionDenied));
        Assert.That(ex.Reason, Is.EqualTo(Reasons.Admin.NotAnAdmin));
    }

    [Test]
    public async Task Revocation_by_each_selector_revokes_exactly_what_it_names()
    {
        var f = new PipelineFixture();
        var admin = await f.AdminAuthorization.AuthorizeAsync(f.As(PipelineFixture.Human));
        var a1 = await f.IssueAsync(PipelineFixture.Request("t1"));
        var a2 = await f.IssueAsync(PipelineFixture.Request("t2"));
        f.CurrentAgent = "spiffe://example.org/agents/other";
        var b1 = await f.IssueAsync(PipelineFixture.Request("t1"));
        f.CurrentAgent = "spiffe://other.org/bots/x";
        var c1 = await f.IssueAsync(PipelineFixture.Request("t9"));

        var byLease = await f.RevokeLeases.RevokeAsync(admin, new RevokeSelector.Lease(a1.Lease.LeaseId), false, "test");
        Assert.That(await StatesAsync(f), Is.EqualTo(new[] { LeaseState.Revoking, LeaseState.Active, LeaseState.Active, LeaseState.Active }), "scheduled, not yet swept");
        Assert.That((byLease.Scheduled, byLease.Matched), Is.EqualTo((1, 1)));
        Assert.That(await f.SweepAsync(), Is.EqualTo(1));
        Assert.That((await f.RevokeLeases.GetProgressAsync(byLease.BatchId)).IsDone, Is.True);

        var byTask = await f.RevokeLeases.RevokeAsync(admin, new RevokeSelector.Task("spiffe://example.org/agents/other", "t1"), false, "test");
        Assert.That(byTask.Scheduled, Is.EqualTo(1));
        Assert.That(await f.SweepAsync(), Is.EqualTo(1));
        Assert.That(await StatesAsync(f), Is.EqualTo(new[] { LeaseState.Revoked, LeaseState.Active, LeaseState.Revoked, LeaseState.Active }));

        var byPattern = await f.RevokeLeases.RevokeAsync(admin, new RevokeSelector.AgentPattern("spiffe://example.org/agents/*"), true, "test");
        Assert.That((byPattern.Scheduled, byPattern.AlreadyRevoked), Is.EqualTo((1, 2)), "revoked ones need no work; other trust domain untouched");
        await f.SweepAsync();
        Assert.That(await StatesAsync(f), Is.EqualTo(new[] { LeaseState.Revoked, LeaseState.Revoked, LeaseState.Revoked, LeaseState.Active }));

        var all = await f.RevokeLeases.RevokeAsync(admin, new RevokeSelector.All(), true, "test");
        Assert.That(all.Scheduled, Is.EqualTo(1));
        await f.SweepAsync();
        Assert.That((await f.Leases.CountByStateAsync())[LeaseState.Active], Is.Zero);
        Assert.That(f.Audit.OfType(AuditEventTypes.RevocationScheduled).Count(), Is.EqualTo(4));
        Assert.That(f.Audit.OfType(AuditEventTypes.LeaseRevoked).Select(e => e.LeaseId), Is.EquivalentTo(new[] { a1, a2, b1, c1 }.Select(g => g.Lease.LeaseId)),
            "each lease's own revocation is audited exactly once");

        async Task<LeaseState[]> StatesAsync(PipelineFixture fx) =>
            [.. await Task.WhenAll(new[] { a1, a2, b1, c1 }.Select(async g => (await fx.Leases.GetAsync(g.Lease.LeaseId))!.State))];
    }

    [Test]
    public async Task Broad_revocations_need_confirmation()
    {
        var f = new PipelineFixture();
        var admin = await f.AdminAuthorization.AuthorizeAsync(f.As(PipelineFixture.Human));
        await f.IssueAsync();

        var ex = Assert.ThrowsAsync<BrokerException>(() => f.RevokeLeases.RevokeAsync(admin, new RevokeSelector.All(), false, "oops"));
        Assert.That(ex!.Reason, Is.EqualTo(Reasons.Admin.ConfirmationRequired));
        Assert.That((await f.Leases.CountByStateAsync())[LeaseState.Active], Is.EqualTo(1));
    }

    [TestCase("spiffe://example.org/agents/***")]
    [TestCase(" spiffe://example.org/agents/*")]
    [TestCase("")]
    public async Task An_invalid_pattern_is_refused_with_pattern_invalid_and_changes_nothing(string pattern)
    {
        var f = new PipelineFixture();
        var admin = await f.AdminAuthorization.AuthorizeAsync(f.As(PipelineFixture.Human));
        await f.IssueAsync();

        var block = Assert.ThrowsAsync<BrokerException>(() => f.KillSwitchAdmin.BlockAsync(admin, pattern, "incident"));
        var revoke = Assert.ThrowsAsync<BrokerException>(() => f.RevokeLeases.RevokeAsync(admin, new RevokeSelector.AgentPattern(pattern), true, "incident"));

        Assert.That((block!.Failure, block.Reason), Is.EqualTo((BrokerFailure.InvalidArgument, Reasons.PatternInvalid)));
        Assert.That((revoke!.Failure, revoke.Reason), Is.EqualTo((BrokerFailure.InvalidArgument, Reasons.PatternInvalid)));
        Assert.That(await f.KillSwitch.ListAsync(), Is.Empty);
        Assert.That((await f.Leases.CountByStateAsync())[LeaseState.Active], Is.EqualTo(1));
    }

    [TestCase("spiffe://example.org/humans/*", true)]
    [TestCase("https://idp.example#system:serviceaccount:ops:*", true)]
    [TestCase("*", false)]
    [TestCase("**", false)]
    [TestCase("spiffe://**", false)]
    [TestCase("https://*.example/admins/*", false)]
    [TestCase("spiffe://example.org/humans/***", false)]
    [TestCase("sp ffe://example.org/humans/*", false)]
    [TestCase("spiffe:/x://example.org/humans/*", false)]
    public void Admin_principals_are_anchored_like_approvers(string pattern, bool valid) =>
        Assert.That(new AdminOptions { Principals = [pattern] }.Validate(), valid ? Is.Empty : Has.One.StartsWith($"Admin:Principals '{pattern}'"));

    [Test]
    public async Task Kill_switch_revokes_existing_leases_and_refuses_new_requests_until_unblocked()
    {
        var f = new PipelineFixture();
        var admin = await f.AdminAuthorization.AuthorizeAsync(f.As(PipelineFixture.Human));
        var held = await f.IssueAsync();

        var (block, revocations) = await f.KillSwitchAdmin.BlockAsync(admin, PipelineFixture.Agent, "exfiltration suspected");

        Assert.That(block.BlockedBy, Is.EqualTo(PipelineFixture.Human));
        Assert.That(revocations.Scheduled, Is.EqualTo(1));
        Assert.That((await f.Leases.GetAsync(held.Lease.LeaseId))!.State, Is.EqualTo(LeaseState.Revoking));
        await f.SweepAsync();
        Assert.That((await f.Leases.GetAsync(held.Lease.LeaseId))!.State, Is.EqualTo(LeaseState.Revoked));
        var refused = Assert.ThrowsAsync<BrokerException>(() => f.RequestCredential.HandleAsync(f.Token(), PipelineFixture.Request("t2")).AsTask());
        Assert.That(refused!.Reason, Is.EqualTo(Reasons.AgentBlocked));
        Assert.That(f.Audit.OfType(AuditEventTypes.AgentBlocked).Single().Actor, Is.EqualTo(PipelineFixture.Human));

        Assert.That(await f.KillSwitchAdmin.UnblockAsync(admin, PipelineFixture.Agent, "false alarm"), Is.True);
        Assert.That(f.Audit.OfType(AuditEventTypes.AgentUnblocked).Single().Detail, Is.EqualTo("false alarm"));
        Assert.That((await f.Leases.GetAsync(held.Lease.LeaseId))!.State, Is.EqualTo(LeaseState.Revoked), "unblocking revives nothing");
        Assert.That((await f.RequestCredential.HandleAsync(f.Token(), PipelineFixture.Request("t3"))).Granted, Is.Not.Null);
    }

    [Test]
    public async Task No_live_credential_survives_a_block_issued_during_in_flight_requests()
    {
        var f = new PipelineFixture();
        f.Issuer.MintDelay = TimeSpan.FromMilliseconds(3); // requests are mid-mint when the block lands
        var admin = await f.AdminAuthorization.AuthorizeAsync(f.As(PipelineFixture.Human));
        using var stop = new CancellationTokenSource();
        var issuedAfterBlock = 0;
        var blockReturned = false;
        var load = Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested && i < 5_000; i++)
            {
                try
                {
                    await f.RequestCredential.HandleAsync(f.Token(), PipelineFixture.Request($"w{w}-{i}"));
                    if (Volatile.Read(ref blockReturned))
                    {
                        Interlocked.Increment(ref issuedAfterBlock);
                    }
                }
                catch (BrokerException ex) when (ex.Reason == Reasons.AgentBlocked)
                {
                }
            }
        })).ToArray();

        await Task.Delay(100);
        await f.KillSwitchAdmin.BlockAsync(admin, PipelineFixture.Agent, "incident");
        Volatile.Write(ref blockReturned, true);
        await Task.Delay(50);
        await stop.CancelAsync();
        await Task.WhenAll(load);

        Assert.That(issuedAfterBlock, Is.Zero, "no request started after the block returned got a credential");
        Assert.That((await f.Leases.CountByStateAsync())[LeaseState.Active], Is.Zero, "every credential issued around the block is revoked");
    }

    [Test]
    public async Task Approval_decisions_are_audited_with_the_approver()
    {
        var f = new PipelineFixture();
        f.Decide = (_, r) => PipelineFixture.Allow(r, TimeSpan.FromMinutes(5)) with
        {
            Effect = DecisionEffect.NeedsApproval,
            Approval = new ApprovalRequirement(["spiffe://example.org/humans/*"], TimeSpan.FromMinutes(15)),
        };
        var pending = (await f.RequestCredential.HandleAsync(f.Token(), PipelineFixture.Request())).PendingApproval!;
        var admin = await f.AdminAuthorization.AuthorizeAsync(f.As(PipelineFixture.Human));

        Assert.That((await f.ApprovalDecisions.ListPendingAsync(10)).Single().ApprovalId, Is.EqualTo(pending.ApprovalId));
        await f.ApprovalDecisions.DecideAsync(admin, pending.ApprovalId, approve: true, "INC-1");

        var decided = f.Audit.OfType(AuditEventTypes.ApprovalDecided).Single();
        Assert.That(decided.Actor, Is.EqualTo(PipelineFixture.Human));
        Assert.That(decided.Decision, Is.EqualTo("approved"));
        Assert.That(await f.ApprovalDecisions.ListPendingAsync(10), Is.Empty);
    }
}
