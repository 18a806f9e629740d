using JitBroker.Core;
using JitBroker.Core.Handlers;
using NUnit.Framework;

namespace JitBroker.Core.Tests;

/// <summary>Issue 19 item 2: ReportUses records what a tool may speak about, and rejects (and audits) the rest.</summary>
public sealed class ReportUsesHandlerTests
{
    private const string OtherTool = "spiffe://example.org/tools/billing";

    private static CredentialUseReport Use(CredentialGrantResult granted, DateTimeOffset at, string outcome = "allowed", string reason = "",
        string? fingerprint = null, string? leaseId = null, string audience = "aud") =>
        new(fingerprint ?? Fingerprints.Of(granted.Credential.Secret), leaseId ?? granted.Lease.LeaseId, "zendesk", "tickets.create", "tickets/1",
            outcome, reason, at, audience);

    private static AuditEvent[] Of(PipelineFixture f, string type) => [.. f.Audit.Events.Where(e => e.Type == type)];

    [Test]
    public async Task An_allowed_and_a_refused_use_become_audit_records_with_lease_task_agent_tool_and_time()
    {
        var f = new PipelineFixture();
        var granted = await f.IssueAsync();
        var at = f.Time.GetUtcNow();

        var result = await f.ReportUses.HandleAsync(f.As(PipelineFixture.ResourceServer),
            [Use(granted, at), Use(granted, at, "refused", "insufficient_scope")]);

        Assert.That((result.Accepted, result.Rejected), Is.EqualTo((2, 0)));
        var used = Of(f, AuditEventTypes.CredentialUsed).Single();
        Assert.That((used.LeaseId, used.TaskId, used.AgentId, used.Actor), Is.EqualTo((granted.Lease.LeaseId, "t1", PipelineFixture.Agent, PipelineFixture.ResourceServer)));
        Assert.That(used.Use, Is.EqualTo(new CredentialUseFacts("zendesk", "tickets.create", "tickets/1", "allowed", at, "aud", false)));
        Assert.That(used.CredentialFingerprint, Is.EqualTo(granted.Lease.CredentialFingerprint));
        var refused = Of(f, AuditEventTypes.CredentialUseRefused).Single();
        Assert.That(refused.Reason, Is.EqualTo("insufficient_scope"));
        Assert.That(Of(f, AuditEventTypes.CredentialUseReportRejected), Is.Empty);
    }

    [Test]
    public async Task A_forged_fingerprint_for_a_real_lease_is_rejected_and_the_call_audited_once()
    {
        var f = new PipelineFixture();
        var granted = await f.IssueAsync();
        var forged = Fingerprints.Of("not-the-token");

        var result = await f.ReportUses.HandleAsync(f.As(PipelineFixture.ResourceServer),
            [Use(granted, f.Time.GetUtcNow(), fingerprint: forged), Use(granted, f.Time.GetUtcNow(), fingerprint: forged)]);

        Assert.That((result.Accepted, result.Rejected), Is.EqualTo((0, 2)));
        Assert.That(result.RejectedReasons, Is.EqualTo(new[] { "0:" + Reasons.ToolUse.FingerprintMismatch, "1:" + Reasons.ToolUse.FingerprintMismatch }));
        Assert.That(Of(f, AuditEventTypes.CredentialUsed), Is.Empty);
        var rejected = Of(f, AuditEventTypes.CredentialUseReportRejected).Single();
        Assert.That((rejected.Actor, rejected.Reason), Is.EqualTo((PipelineFixture.ResourceServer, Reasons.ToolUse.FingerprintMismatch)));
    }

    [TestCase("sha256:ABC")]
    [TestCase("sha1:0000000000000000000000000000000000000000")]
    [TestCase("sha256:000000000000000000000000000000000000000000000000000000000000000G")]
    [TestCase("")]
    public async Task A_malformed_fingerprint_is_rejected(string fingerprint)
    {
        var f = new PipelineFixture();
        var granted = await f.IssueAsync();

        var result = await f.ReportUses.HandleAsync(f.As(PipelineFixture.ResourceServer), [Use(granted, f.Time.GetUtcNow(), fingerprint: fingerprint)]);

        Assert.That(result.RejectedReasons, Is.EqualTo(new[] { "0:" + Reasons.ToolUse.FingerprintMalformed }));
    }

    [Test]
    public async Task A_tool_cannot_report_uses_for_another_tools_audience()
    {
        var f = new PipelineFixture();
        var granted = await f.IssueAsync();

        // The billing tool serves "other-aud": neither its own-audience claim nor a claim of "aud" ties it to this lease.
        var claimsOwn = await f.ReportUses.HandleAsync(f.As(OtherTool), [Use(granted, f.Time.GetUtcNow(), audience: "other-aud")]);
        var claimsTheirs = await f.ReportUses.HandleAsync(f.As(OtherTool), [Use(granted, f.Time.GetUtcNow())]);

        Assert.That(claimsOwn.RejectedReasons, Is.EqualTo(new[] { "0:" + Reasons.ToolUse.AudienceMismatch }));
        Assert.That(claimsTheirs.RejectedReasons, Is.EqualTo(new[] { "0:" + Reasons.ToolUse.AudienceNotServed }));
        Assert.That(Of(f, AuditEventTypes.CredentialUsed), Is.Empty);
    }

    [Test]
    public async Task A_caller_that_is_no_resource_server_is_refused_and_audited()
    {
        var f = new PipelineFixture();
        var granted = await f.IssueAsync();

        var ex = Assert.ThrowsAsync<BrokerException>(() => f.ReportUses.HandleAsync(f.As(PipelineFixture.Agent), [Use(granted, f.Time.GetUtcNow())]));

        Assert.That((ex!.Failure, ex.Reason), Is.EqualTo((BrokerFailure.PermissionDenied, Reasons.ToolUse.CallerNotResourceServer)));
        Assert.That(Of(f, AuditEventTypes.CredentialUseReportRejected).Single().Actor, Is.EqualTo(PipelineFixture.Agent));
    }

    [TestCase("lease_aaaaaaaaaaaaaaaaaaaaaaaaaa")]
    [TestCase("not-a-lease")]
    public async Task An_unknown_lease_is_rejected(string leaseId)
    {
        var f = new PipelineFixture();
        var granted = await f.IssueAsync();

        var result = await f.ReportUses.HandleAsync(f.As(PipelineFixture.ResourceServer), [Use(granted, f.Time.GetUtcNow(), leaseId: leaseId)]);

        Assert.That(result.RejectedReasons, Is.EqualTo(new[] { "0:" + Reasons.ToolUse.LeaseUnknown }));
    }

    [Test]
    public async Task A_refused_unreadable_token_is_recorded_without_a_lease_but_an_allowed_one_is_rejected()
    {
        var f = new PipelineFixture();
        var granted = await f.IssueAsync();
        var garbage = Fingerprints.Of("garbage");

        var result = await f.ReportUses.HandleAsync(f.As(PipelineFixture.ResourceServer),
            [Use(granted, f.Time.GetUtcNow(), "refused", "invalid_token", garbage, leaseId: ""), Use(granted, f.Time.GetUtcNow(), fingerprint: garbage, leaseId: "")]);

        Assert.That(result.RejectedReasons, Is.EqualTo(new[] { "1:" + Reasons.ToolUse.LeaseUnknown }));
        var refused = Of(f, AuditEventTypes.CredentialUseRefused).Single();
        Assert.That((refused.LeaseId, refused.TaskId, refused.CredentialFingerprint), Is.EqualTo(((string?)null, (string?)null, garbage)));
    }

    [Test]
    public async Task A_use_after_the_task_ended_is_recorded_and_flagged_late()
    {
        var f = new PipelineFixture();
        var granted = await f.IssueAsync();
        var before = f.Time.GetUtcNow();
        f.Time.Advance(TimeSpan.FromSeconds(5));
        await f.EndTask.HandleAsync(f.As(PipelineFixture.Agent), "t1");
        f.Time.Advance(TimeSpan.FromSeconds(1));

        var result = await f.ReportUses.HandleAsync(f.As(PipelineFixture.ResourceServer), [Use(granted, before), Use(granted, f.Time.GetUtcNow())]);

        Assert.That(result.Accepted, Is.EqualTo(2));
        var uses = Of(f, AuditEventTypes.CredentialUsed);
        Assert.That(uses.Select(u => u.Use!.Late), Is.EqualTo(new[] { false, true }));
        Assert.That(uses[1].Detail, Does.StartWith("after revocation"));
        Assert.That(uses[0].Detail, Is.Null);
    }

    [Test]
    public async Task A_batch_over_500_is_refused_whole()
    {
        var f = new PipelineFixture();
        var granted = await f.IssueAsync();
        var uses = Enumerable.Repeat(Use(granted, f.Time.GetUtcNow()), ReportUsesHandler.MaxUses + 1).ToArray();

        var ex = Assert.ThrowsAsync<BrokerException>(() => f.ReportUses.HandleAsync(f.As(PipelineFixture.ResourceServer), uses));
        var full = await f.ReportUses.HandleAsync(f.As(PipelineFixture.ResourceServer), uses[..ReportUsesHandler.MaxUses]);

        Assert.That((ex!.Failure, ex.Reason), Is.EqualTo((BrokerFailure.InvalidArgument, Reasons.ToolUse.BatchTooLarge)));
        Assert.That(full.Accepted, Is.EqualTo(ReportUsesHandler.MaxUses));
    }

    [Test]
    public async Task A_use_more_than_five_minutes_ahead_or_before_the_lease_was_issued_is_rejected()
    {
        var f = new PipelineFixture();
        var granted = await f.IssueAsync();
        var now = f.Time.GetUtcNow();

        var result = await f.ReportUses.HandleAsync(f.As(PipelineFixture.ResourceServer),
            [Use(granted, now.AddMinutes(5).AddSeconds(1)), Use(granted, now.AddMinutes(4)), Use(granted, granted.Lease.IssuedAt.AddMinutes(-6))]);

        Assert.That(result.RejectedReasons, Is.EqualTo(new[] { "0:" + Reasons.ToolUse.TimeOutOfWindow, "2:" + Reasons.ToolUse.TimeOutOfWindow }));
    }

    [Test]
    public async Task A_report_later_than_an_hour_after_the_lease_expired_is_rejected()
    {
        var f = new PipelineFixture();
        var granted = await f.IssueAsync();
        f.Time.Advance(granted.Lease.ExpiresAt - f.Time.GetUtcNow() + TimeSpan.FromMinutes(61));

        var result = await f.ReportUses.HandleAsync(f.As(PipelineFixture.ResourceServer), [Use(granted, granted.Lease.IssuedAt.AddMinutes(1))]);

        Assert.That(result.RejectedReasons, Is.EqualTo(new[] { "0:" + Reasons.ToolUse.TimeOutOfWindow }));
    }

    [TestCase("maybe", "")]
    [TestCase("allowed", "but-why")]
    [TestCase("refused", "")]
    public async Task An_outcome_that_is_not_allowed_or_refused_with_a_reason_is_rejected(string outcome, string reason)
    {
        var f = new PipelineFixture();
        var granted = await f.IssueAsync();

        var result = await f.ReportUses.HandleAsync(f.As(PipelineFixture.ResourceServer), [Use(granted, f.Time.GetUtcNow(), outcome, reason)]);

        Assert.That(result.RejectedReasons, Is.EqualTo(new[] { "0:" + Reasons.ToolUse.UseInvalid }));
    }

    [Test]
    public async Task Fields_with_control_characters_or_no_time_are_rejected()
    {
        var f = new PipelineFixture();
        var granted = await f.IssueAsync();
        var good = Use(granted, f.Time.GetUtcNow());

        var result = await f.ReportUses.HandleAsync(f.As(PipelineFixture.ResourceServer),
            [good with { Tool = "zen\ndesk" }, good with { At = null }, good with { Tool = "" }, good with { Resource = new string('r', 1025) }]);

        Assert.That(result.Rejected, Is.EqualTo(4));
        Assert.That(result.RejectedReasons, Has.All.EndsWith(Reasons.ToolUse.UseInvalid));
    }

    [Test]
    public async Task An_audit_outage_fails_the_call_so_the_tool_retries()
    {
        var f = new PipelineFixture();
        var granted = await f.IssueAsync();
        f.Audit.Fail = true;

        var ex = Assert.ThrowsAsync<BrokerException>(() => f.ReportUses.HandleAsync(f.As(PipelineFixture.ResourceServer), [Use(granted, f.Time.GetUtcNow())]));

        Assert.That(ex!.Failure, Is.EqualTo(BrokerFailure.Unavailable));
    }

    [Test]
    public async Task The_use_record_carries_the_owner_of_the_rule_that_granted_the_lease()
    {
        var f = new PipelineFixture();
        f.Decide = (_, r) => PipelineFixture.Allow(r, TimeSpan.FromMinutes(10)) is var d ? d with { Grant = d.Grant! with { Owner = "alice@example.com" } } : d;
        var granted = await f.IssueAsync();

        await f.ReportUses.HandleAsync(f.As(PipelineFixture.ResourceServer), [Use(granted, f.Time.GetUtcNow())]);

        Assert.That(granted.Lease.Owner, Is.EqualTo("alice@example.com"));
        Assert.That(Of(f, AuditEventTypes.CredentialIssued).Single().Owner, Is.EqualTo("alice@example.com"));
        Assert.That(Of(f, AuditEventTypes.CredentialUsed).Single().Owner, Is.EqualTo("alice@example.com"));
    }
}
