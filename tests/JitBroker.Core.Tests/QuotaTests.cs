using System.Diagnostics.Metrics;
using JitBroker.Core;
using NUnit.Framework;

namespace JitBroker.Core.Tests;

/// <summary>Per-agent quotas on the request path (issue 17 item 1): rate, active-lease caps, approvals, audit and metrics.</summary>
public sealed class QuotaTests
{
    private const string Other = "spiffe://example.org/agents/other";

    [Test]
    public void The_global_limits_are_reused_while_unchanged_and_follow_every_later_setting()
    {
        var quotas = new QuotaOptions { RatePerSecond = 2.5 };
        var first = quotas.Limits;

        Assert.That(quotas.Limits, Is.SameAs(first), "read per request: built once while the inputs stand");
        Assert.That(first.Burst, Is.EqualTo(3), "the default burst is the rate rounded up");

        // Options are plain settable properties (tests, binding): each change must show on the next read.
        quotas.Burst = 7;
        Assert.That(quotas.Limits, Is.EqualTo(first with { Burst = 7 }));
        quotas.MaxActiveLeasesPerAgent = 5;
        quotas.MaxActiveLeasesPerTask = 4;
        quotas.MaxPendingApprovalsPerAgent = 3;
        quotas.MaxApprovalWaitsPerAgent = 2;
        quotas.RatePerSecond = null;
        Assert.That(quotas.Limits, Is.EqualTo(new QuotaLimits
        {
            Burst = 7, MaxActiveLeasesPerAgent = 5, MaxActiveLeasesPerTask = 4, MaxPendingApprovalsPerAgent = 3, MaxApprovalWaitsPerAgent = 2,
        }));
    }

    [Test]
    public async Task An_agent_past_its_rate_is_refused_with_resource_exhausted_and_a_retry_hint()
    {
        var f = new PipelineFixture();
        f.Options.Quotas.RatePerSecond = 1;
        f.Options.Quotas.Burst = 2;
        await f.IssueAsync(PipelineFixture.Request("t1"));
        await f.IssueAsync(PipelineFixture.Request("t2"));

        var refused = Assert.ThrowsAsync<BrokerException>(() => f.IssueAsync(PipelineFixture.Request("t3")));

        Assert.That(refused!.Failure, Is.EqualTo(BrokerFailure.ResourceExhausted));
        Assert.That(refused.Reason, Is.EqualTo(Reasons.Quota.RateExceeded));
        Assert.That(refused.RetryAfter, Is.EqualTo(TimeSpan.FromSeconds(1)), "one token comes back after 1/rate");
        f.Time.Advance(refused.RetryAfter!.Value);
        Assert.That(await f.IssueAsync(PipelineFixture.Request("t3")), Is.Not.Null, "waiting the hint is enough");
    }

    [Test]
    public async Task The_rate_is_counted_per_agent()
    {
        var f = new PipelineFixture();
        f.Options.Quotas.RatePerSecond = 0.1;
        f.Options.Quotas.Burst = 1;
        await f.IssueAsync();
        Assert.ThrowsAsync<BrokerException>(() => f.IssueAsync());

        var other = await f.RequestCredential.HandleAsync(f.As(Other), PipelineFixture.Request());

        Assert.That(other.Granted, Is.Not.Null);
    }

    [Test]
    public async Task A_rule_s_own_rate_applies_to_the_requests_it_decides()
    {
        var f = new PipelineFixture();
        f.Decide = (_, r) => PipelineFixture.Allow(r, TimeSpan.FromMinutes(5)) with { Quota = new QuotaLimits { RatePerSecond = 0.5, Burst = 1 } };
        await f.IssueAsync();

        var refused = Assert.ThrowsAsync<BrokerException>(() => f.IssueAsync());

        Assert.That(refused!.Reason, Is.EqualTo(Reasons.Quota.RateExceeded));
        Assert.That(refused.Message, Does.Contain("allow-rule"));
        Assert.That(refused.RetryAfter, Is.EqualTo(TimeSpan.FromSeconds(2)));
    }

    [Test]
    public async Task Quota_refusals_are_audited_once_per_window_and_counted_every_time()
    {
        var f = new PipelineFixture();
        f.Options.Quotas.RatePerSecond = 0.001;
        f.Options.Quotas.Burst = 1;
        f.Options.Quotas.AuditWindow = TimeSpan.FromMinutes(1);
        using var refusals = new RefusalCounter(f.Metrics);
        await f.IssueAsync();

        for (var i = 0; i < 10; i++)
        {
            Assert.ThrowsAsync<BrokerException>(() => f.IssueAsync());
        }

        Assert.That(QuotaRecords(f), Has.Length.EqualTo(1), "ten refusals, one record in the window");
        Assert.That(refusals.Of(Reasons.Quota.RateExceeded), Is.EqualTo(10), "the metric counts each one");

        f.Time.Advance(TimeSpan.FromMinutes(1));
        Assert.ThrowsAsync<BrokerException>(() => f.IssueAsync());

        var records = QuotaRecords(f);
        Assert.That(records, Has.Length.EqualTo(2));
        Assert.That(records[1].Detail, Does.Contain("9 more refusals"), "the next record says how many the window held back");
        Assert.That(records[1].AgentId, Is.EqualTo(PipelineFixture.Agent));
    }

    [Test]
    public async Task An_agent_at_its_active_lease_cap_is_refused_and_the_minted_credential_undone()
    {
        var f = new PipelineFixture();
        f.Options.Quotas.MaxActiveLeasesPerAgent = 2;
        using var refusals = new RefusalCounter(f.Metrics);
        await f.IssueAsync(PipelineFixture.Request("t1"));
        await f.IssueAsync(PipelineFixture.Request("t2"));

        var refused = Assert.ThrowsAsync<BrokerException>(() => f.IssueAsync(PipelineFixture.Request("t3")));

        Assert.That(refused!.Failure, Is.EqualTo(BrokerFailure.ResourceExhausted));
        Assert.That(refused.Reason, Is.EqualTo(Reasons.Quota.ActiveLeasesPerAgent));
        Assert.That(f.Issuer.Revoked, Has.Count.EqualTo(1), "the credential minted for the refused request was undone at its issuer");
        var held = await f.Leases.ListAsync(new LeaseQuery { AgentId = PipelineFixture.Agent });
        Assert.That(held.Leases, Has.Count.EqualTo(2));
        Assert.That(QuotaRecords(f).Select(e => e.Reason), Is.EqualTo(new[] { Reasons.Quota.ActiveLeasesPerAgent }));
        Assert.That(refusals.Of(Reasons.Quota.ActiveLeasesPerAgent), Is.EqualTo(1));
    }

    [Test]
    public async Task Sixty_four_concurrent_requests_never_exceed_the_active_lease_cap()
    {
        var f = new PipelineFixture();
        f.Options.Quotas.MaxActiveLeasesPerAgent = 5;
        f.Issuer.MintDelay = TimeSpan.FromMilliseconds(20); // every request is minting while the others are

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 64).Select(async i =>
        {
            try
            {
                await f.IssueAsync(PipelineFixture.Request("t" + i));
                return null;
            }
            catch (BrokerException ex)
            {
                return ex.Reason;
            }
        }));

        Assert.That(outcomes.Count(o => o is null), Is.EqualTo(5));
        Assert.That(outcomes.Where(o => o is not null), Has.All.EqualTo(Reasons.Quota.ActiveLeasesPerAgent));
        var active = (await f.Leases.ListAsync(new LeaseQuery { AgentId = PipelineFixture.Agent, State = LeaseState.Active, PageSize = 1000 })).Leases;
        Assert.That(active, Has.Count.EqualTo(5));
    }

    [Test]
    public async Task A_rule_s_task_cap_tightens_the_broker_s()
    {
        var f = new PipelineFixture();
        f.Options.Quotas.MaxActiveLeasesPerTask = 10;
        f.Decide = (_, r) => PipelineFixture.Allow(r, TimeSpan.FromMinutes(5)) with { Quota = new QuotaLimits { MaxActiveLeasesPerTask = 1 } };
        await f.IssueAsync(PipelineFixture.Request("t1"));

        var refused = Assert.ThrowsAsync<BrokerException>(() => f.IssueAsync(PipelineFixture.Request("t1")));

        Assert.That(refused!.Reason, Is.EqualTo(Reasons.Quota.ActiveLeasesPerTask));
        Assert.That(await f.IssueAsync(PipelineFixture.Request("t2")), Is.Not.Null, "another task has room");
    }

    [Test]
    public async Task An_identical_request_reuses_the_pending_approval_instead_of_opening_another()
    {
        var f = NeedsApproval();

        var first = (await f.RequestCredential.HandleAsync(f.Token(), PipelineFixture.Request("t1"))).PendingApproval!;
        var again = (await f.RequestCredential.HandleAsync(f.Token(), PipelineFixture.Request("t1"))).PendingApproval!;

        Assert.That(again.ApprovalId, Is.EqualTo(first.ApprovalId));
        Assert.That(await f.Approvals.ListPendingAsync(10), Has.Count.EqualTo(1));
        Assert.That(f.Audit.OfType(AuditEventTypes.ApprovalRequested).Count(), Is.EqualTo(1), "no second record for the same request");
    }

    [Test]
    public async Task An_agent_past_its_pending_approval_cap_is_refused()
    {
        var f = NeedsApproval();
        f.Options.Quotas.MaxPendingApprovalsPerAgent = 2;
        await f.RequestCredential.HandleAsync(f.Token(), PipelineFixture.Request("t1"));
        await f.RequestCredential.HandleAsync(f.Token(), PipelineFixture.Request("t2"));

        var refused = Assert.ThrowsAsync<BrokerException>(() => f.RequestCredential.HandleAsync(f.Token(), PipelineFixture.Request("t3")).AsTask());

        Assert.That(refused!.Failure, Is.EqualTo(BrokerFailure.ResourceExhausted));
        Assert.That(refused.Reason, Is.EqualTo(Reasons.Quota.PendingApprovals));
        Assert.That(await f.Approvals.ListPendingAsync(10), Has.Count.EqualTo(2));
        Assert.That(QuotaRecords(f).Select(e => e.Reason), Is.EqualTo(new[] { Reasons.Quota.PendingApprovals }));
        var other = await f.RequestCredential.HandleAsync(f.As(Other), PipelineFixture.Request("t3"));
        Assert.That(other.PendingApproval, Is.Not.Null, "the cap is per agent");
    }

    [Test]
    public async Task Approval_waits_beyond_the_agent_s_cap_are_refused_and_a_finished_wait_frees_its_slot()
    {
        var f = NeedsApproval();
        f.Options.Quotas.MaxApprovalWaitsPerAgent = 1;
        var pending = (await f.RequestCredential.HandleAsync(f.Token(), PipelineFixture.Request())).PendingApproval!;
        var ticket = new ApprovalTicket(pending.ApprovalId, TimeSpan.FromMinutes(1));
        using var firstCall = new CancellationTokenSource();
        // Blocks in the approval poll (fake time) until cancelled.
        var waiting = f.RequestCredential.HandleAsync(f.Token(), PipelineFixture.Request(), ticket, firstCall.Token);
        Assert.That(waiting.IsCompleted, Is.False);

        var refused = Assert.ThrowsAsync<BrokerException>(() => f.RequestCredential.HandleAsync(f.Token(), PipelineFixture.Request(), ticket).AsTask());
        Assert.That(refused!.Failure, Is.EqualTo(BrokerFailure.ResourceExhausted));
        Assert.That(refused.Reason, Is.EqualTo(Reasons.Quota.ApprovalWaits));
        Assert.That(refused.RetryAfter, Is.Not.Null);
        var poll = await f.RequestCredential.HandleAsync(f.Token(), PipelineFixture.Request(), ticket with { Wait = TimeSpan.Zero });
        Assert.That(poll.PendingApproval, Is.Not.Null, "a poll that does not wait takes no slot");

        await firstCall.CancelAsync();
        Assert.That(async () => await waiting, Throws.InstanceOf<OperationCanceledException>());
        using var second = new CancellationTokenSource();
        var next = f.RequestCredential.HandleAsync(f.Token(), PipelineFixture.Request(), ticket, second.Token);
        Assert.That(next.IsCompleted, Is.False, "the slot was given back");
        await second.CancelAsync();
        Assert.That(async () => await next, Throws.InstanceOf<OperationCanceledException>());
    }

    [Test]
    public async Task The_replica_s_approval_waits_are_capped_over_all_agents()
    {
        var f = NeedsApproval();
        f.Options.Quotas.MaxApprovalWaits = 1;
        f.Options.Quotas.MaxApprovalWaitsPerAgent = 1;
        var mine = (await f.RequestCredential.HandleAsync(f.Token(), PipelineFixture.Request())).PendingApproval!;
        var theirs = (await f.RequestCredential.HandleAsync(f.As(Other), PipelineFixture.Request())).PendingApproval!;
        using var cancel = new CancellationTokenSource();
        var waiting = f.RequestCredential.HandleAsync(f.Token(), PipelineFixture.Request(), new ApprovalTicket(mine.ApprovalId, TimeSpan.FromMinutes(1)), cancel.Token);

        var refused = Assert.ThrowsAsync<BrokerException>(() =>
            f.RequestCredential.HandleAsync(f.As(Other), PipelineFixture.Request(), new ApprovalTicket(theirs.ApprovalId, TimeSpan.FromMinutes(1))).AsTask());

        Assert.That(refused!.Reason, Is.EqualTo(Reasons.Quota.ApprovalWaits));
        await cancel.CancelAsync();
        Assert.That(async () => await waiting, Throws.InstanceOf<OperationCanceledException>());
    }

    [Test]
    public void Nonsense_quota_settings_are_refused_at_start_up()
    {
        var options = new BrokerOptions
        {
            Quotas = new QuotaOptions
            {
                RatePerSecond = 0, MaxActiveLeasesPerAgent = 2, MaxActiveLeasesPerTask = 5, MaxPendingApprovalsPerAgent = 0,
                MaxApprovalWaits = 2, MaxApprovalWaitsPerAgent = 3, AuditWindow = TimeSpan.Zero,
            },
        };

        var problems = options.Validate().ToList();

        Assert.That(problems, Has.Some.Contains("Quotas:RatePerSecond"));
        Assert.That(problems, Has.Some.Contains("MaxActiveLeasesPerTask cannot exceed"));
        Assert.That(problems, Has.Some.Contains("MaxPendingApprovalsPerAgent must be between"));
        Assert.That(problems, Has.Some.Contains("MaxApprovalWaitsPerAgent cannot exceed"));
        Assert.That(problems, Has.Some.Contains("AuditWindow"));
        Assert.That(new BrokerOptions { Quotas = new QuotaOptions { Burst = 5 } }.Validate(), Has.Some.Contains("Burst needs RatePerSecond"));
        Assert.That(new BrokerOptions().Validate(), Is.Empty, "the defaults are sound");
    }

    private static PipelineFixture NeedsApproval()
    {
        var f = new PipelineFixture();
        f.Decide = (_, r) => PipelineFixture.Allow(r, TimeSpan.FromMinutes(5)) with
        {
            Effect = DecisionEffect.NeedsApproval,
            Approval = new ApprovalRequirement(["spiffe://example.org/humans/*"], TimeSpan.FromMinutes(15)),
        };
        return f;
    }

    private static AuditEvent[] QuotaRecords(PipelineFixture f) =>
        [.. f.Audit.OfType(AuditEventTypes.RequestDenied).Where(e => e.Reason is { } r && Reasons.Quota.Includes(r))];

    /// <summary>Listens to <c>jitbroker.quota.refusals</c> of one fixture's meter.</summary>
    private sealed class RefusalCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly Dictionary<string, long> _byReason = [];

        public RefusalCounter(BrokerMetrics metrics)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (ReferenceEquals(instrument.Meter, metrics.Meter) && instrument.Name == "jitbroker.quota.refusals")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == BrokerMetrics.TagReason && tag.Value is string reason)
                    {
                        lock (_byReason)
                        {
                            _byReason[reason] = _byReason.GetValueOrDefault(reason) + value;
                        }
                    }
                }
            });
            _listener.Start();
        }

        public long Of(string reason)
        {
            lock (_byReason)
            {
                return _byReason.GetValueOrDefault(reason);
            }
        }

        public void Dispose() => _listener.Dispose();
    }
}
