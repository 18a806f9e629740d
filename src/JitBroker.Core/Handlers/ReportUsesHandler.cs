namespace JitBroker.Core.Handlers;

/// <summary>
/// ReportUses: a tool tells the broker which credentials it accepted or refused, and each use it may speak about becomes
/// a <c>credential.used</c> / <c>credential.use_refused</c> record in the audit chain (docs/audit.md "Tool uses").
/// Steps, in order: 1 attest the tool, kill switch; 2 the tool must be configured as a resource server
/// (<see cref="ToolUseOptions"/>); 3 bound the batch; 4 per use (<see cref="ToolUseChecks"/>): fields, fingerprint shape, the
/// tool serves the use's audience, the named lease exists, is for that audience and carries that fingerprint, the time is
/// in its window; 5 append the accepted ones (fail closed: an audit outage is Unavailable, the tool retries), and one
/// <c>credential.use_report_rejected</c> for the call when any use was rejected.
/// </summary>
public sealed class ReportUsesHandler
{
    /// <summary>Most uses one call may carry; a longer batch is refused whole.</summary>
    public const int MaxUses = 500;

    private readonly AgentAdmission _admission;
    private readonly ToolUseChecks _checks;
    private readonly IAuditLog _audit;
    private readonly BestEffortAudit _bestEffort;
    private readonly (GlobPattern Identity, string[] Audiences)[] _servers;

    public ReportUsesHandler(AgentAdmission admission, ToolUseChecks checks, IAuditLog audit, BestEffortAudit bestEffort, ToolUseOptions options)
    {
        _admission = admission;
        _checks = checks;
        _audit = audit;
        _bestEffort = bestEffort;
        _servers = [.. options.ResourceServers.Select(s => (GlobPattern.Parse(s.Identity), s.Audiences.ToArray()))];
    }

    public async Task<ReportUsesResult> HandleAsync(AttestationEvidence evidence, IReadOnlyList<CredentialUseReport> uses,
        CancellationToken cancellationToken = default)
    {
        // 1 attest: a use record names the tool that wrote it, so the tool proves what it is, like any caller.
        var tool = await _admission.AttestAsync(evidence, cancellationToken).ConfigureAwait(false);
        await _admission.EnsureNotBlockedAsync(tool, null, cancellationToken).ConfigureAwait(false);

        // 2 only a configured resource server writes use records, and only for its own audiences.
        var served = _servers.Where(s => s.Identity.IsMatch(tool.Id)).SelectMany(s => s.Audiences).ToHashSet(StringComparer.Ordinal);
        if (served.Count == 0)
        {
            await _bestEffort.RecordAsync(new AuditEvent
            {
                Type = AuditEventTypes.CredentialUseReportRejected, Actor = tool.Id, Reason = Reasons.ToolUse.CallerNotResourceServer,
                Detail = $"{uses.Count} use(s) from a caller that is no configured resource server",
            }, cancellationToken).ConfigureAwait(false);
            throw new BrokerException(BrokerFailure.PermissionDenied, Reasons.ToolUse.CallerNotResourceServer,
                "Uses are recorded only from tools configured under JitBroker:Tools:ResourceServers.");
        }

        // 3 bound the work one call can cause.
        if (uses.Count > MaxUses)
        {
            throw new BrokerException(BrokerFailure.InvalidArgument, Reasons.ToolUse.BatchTooLarge, $"At most {MaxUses} uses per call.");
        }

        // 4 check every use; 5 record what passed, in the order reported.
        var rejected = new List<string>();
        var accepted = new List<AuditEvent>(uses.Count);
        var leases = new Dictionary<string, Lease?>(StringComparer.Ordinal);
        for (var i = 0; i < uses.Count; i++)
        {
            var checkedUse = await _checks.CheckAsync(uses[i], served, leases, cancellationToken).ConfigureAwait(false);
            if (checkedUse.Rejection is { } reason)
            {
                rejected.Add($"{i}:{reason}");
                continue;
            }

            accepted.Add(EventOf(tool.Id, uses[i], checkedUse));
        }

        // One append for the batch: one wait on the audit writer (one fsync) instead of one per use.
        if (accepted.Count > 0)
        {
            await _audit.AppendManyAsync(accepted, cancellationToken).ConfigureAwait(false);
        }

        if (rejected.Count > 0)
        {
            // One record per call, not per use: a flood of forged reports costs one line each time, and still shows.
            await _bestEffort.RecordAsync(new AuditEvent
            {
                Type = AuditEventTypes.CredentialUseReportRejected, Actor = tool.Id, Reason = rejected[0][(rejected[0].IndexOf(':') + 1)..],
                Detail = $"{rejected.Count} of {uses.Count} use(s) rejected: {string.Join(", ", rejected.Take(20))}{(rejected.Count > 20 ? ", …" : "")}",
            }, cancellationToken).ConfigureAwait(false);
        }

        return new ReportUsesResult(uses.Count - rejected.Count, rejected.Count, rejected);
    }

    private static AuditEvent EventOf(string toolId, CredentialUseReport use, CheckedUse checkedUse)
    {
        var lease = checkedUse.Lease;
        var allowed = use.Outcome == CredentialUseOutcomes.Allowed;
        return new AuditEvent
        {
            Type = allowed ? AuditEventTypes.CredentialUsed : AuditEventTypes.CredentialUseRefused,
            AgentId = lease?.AgentId,
            TaskId = lease?.TaskId,
            LeaseId = lease?.LeaseId,
            ParentLeaseId = lease?.ParentLeaseId,
            CredentialFingerprint = use.CredentialFingerprint,
            Reason = allowed ? null : use.Reason,
            Detail = checkedUse.LateBecause,
            Actor = toolId,
            Owner = lease?.Owner,
            Use = new CredentialUseFacts(use.Tool, use.Action, use.Resource, use.Outcome, use.At!.Value, use.Audience, checkedUse.LateBecause is not null),
        };
    }
}
