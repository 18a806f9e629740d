namespace JitBroker.Core;

/// <summary>Stable audit event types (dotted lowercase). Never renamed: verifiers and SIEM rules key on them.</summary>
public static class AuditEventTypes
{
    /// <summary>One record per failed attestation; written by brokers before issue 17, kept for reading older logs.</summary>
    public const string AttestationFailed = "attestation.failed";
    /// <summary>Failed attestations and rate-limited calls of one reason and peer over one summary interval (docs/audit.md).</summary>
    public const string AttestationFailures = "attestation.failures";
    public const string RequestDenied = "request.denied";
    public const string ApprovalRequested = "approval.requested";
    public const string ApprovalDecided = "approval.decided";
    public const string CredentialIssued = "credential.issued";
    public const string CredentialRenewed = "credential.renewed";
    public const string CredentialDelegated = "credential.delegated";
    public const string TaskEnded = "task.ended";

    /// <summary>An agent revoked one of its own credentials (OAuth token revocation, RFC 7009); the lease.revoked records follow.</summary>
    public const string CredentialRevokedByHolder = "credential.revoked_by_holder";
    public const string LeaseRevoked = "lease.revoked";
    public const string RevocationFailed = "revocation.failed";
    public const string AgentBlocked = "agent.blocked";
    public const string AgentUnblocked = "agent.unblocked";
    /// <summary>An operator's (or a policy reload's) bulk revocation was scheduled; each lease's own lease.revoked follows.</summary>
    public const string RevocationScheduled = "revocation.scheduled";
    public const string PolicyReloaded = "policy.reloaded";
    /// <summary>An attested caller was refused by the admin API (not an admin, replayed token, blocked operator).</summary>
    public const string AdminRefused = "admin.refused";

    /// <summary>A tool reported an allowed use of a credential (ReportUses); the record's <c>use</c> member says where and when.</summary>
    public const string CredentialUsed = "credential.used";

    /// <summary>A tool reported that it refused a presented credential (ReportUses); <c>reason</c> is the tool's refusal code.</summary>
    public const string CredentialUseRefused = "credential.use_refused";

    /// <summary>One ReportUses call carried uses the broker would not record (forged, mismatched, out of window); one record per call.</summary>
    public const string CredentialUseReportRejected = "credential.use_report_rejected";

    /// <summary>A receiver refused a Security Event Token for good (RFC 8935 §2.3 error) or it outlived retention: it is not sent again.</summary>
    public const string SignalDropped = "ssf.set_dropped";
}

/// <summary>
/// One use of a credential at a tool, as the tool reported it (ReportUses) and the broker checked it: where
/// (<see cref="Tool"/>, <see cref="ToolAction"/>, <see cref="Resource"/> at <see cref="Audience"/>), when (<see cref="At"/>, the
/// tool's clock), with what outcome, and whether the lease was already revoked then (<see cref="Late"/>).
/// </summary>
public sealed record CredentialUseFacts(
    string Tool, string ToolAction, string Resource, string Outcome, DateTimeOffset At, string Audience, bool Late);

/// <summary>
/// One thing that happened, as the broker records it. Never carries a secret: credentials appear only as
/// their SHA-256 fingerprint. Sequence number, time and hash chain are assigned by the log, not the caller.
/// </summary>
public sealed record AuditEvent
{
    public required string Type { get; init; }
    public string? AgentId { get; init; }
    public string? TaskId { get; init; }
    /// <summary>The declared intent, when the event concerns a request.</summary>
    public TaskIntent? Intent { get; init; }
    public string? Decision { get; init; }
    public IReadOnlyList<string> RuleIds { get; init; } = [];
    public string? LeaseId { get; init; }
    public string? ParentLeaseId { get; init; }
    public string? CredentialFingerprint { get; init; }
    /// <summary>Stable reason code for failures and denials.</summary>
    public string? Reason { get; init; }
    /// <summary>Human-readable detail (policy reason, operator's block reason). Never a secret.</summary>
    public string? Detail { get; init; }
    /// <summary>Who acted, when not the agent (an operator, an approver).</summary>
    public string? Actor { get; init; }

    /// <summary>The person accountable for the policy rule behind the event (issuance, denial, a use), when the rule names one.</summary>
    public string? Owner { get; init; }

    /// <summary>For <see cref="AuditEventTypes.CredentialUsed"/> / <see cref="AuditEventTypes.CredentialUseRefused"/>: the reported use.</summary>
    public CredentialUseFacts? Use { get; init; }
}

/// <summary>
/// The tamper-evident audit log. <see cref="AppendAsync"/> returns once the event is durable per the
/// configured sink policy; it throws when the event cannot be written, and the broker then fails closed
/// (refuses to issue) unless configured otherwise.
/// </summary>
public interface IAuditLog
{
    ValueTask AppendAsync(AuditEvent auditEvent, CancellationToken cancellationToken = default);

    /// <summary>
    /// Appends <paramref name="auditEvents"/> in their order, as consecutive records when the log can; returns once all are
    /// durable. Throws like <see cref="AppendAsync"/> when any cannot be written (those before it may be recorded). The
    /// default appends one by one; a log that batches writes (one sink write, one fsync for all) overrides it.
    /// </summary>
    async ValueTask AppendManyAsync(IReadOnlyList<AuditEvent> auditEvents, CancellationToken cancellationToken = default)
    {
        foreach (var auditEvent in auditEvents)
        {
            await AppendAsync(auditEvent, cancellationToken).ConfigureAwait(false);
        }
    }
}
