namespace JitBroker.Core;

/// <summary>Which leases an operator's revocation targets.</summary>
public abstract record RevokeSelector
{
    private RevokeSelector()
    {
    }

    public sealed record Lease(string LeaseId) : RevokeSelector;

    /// <summary>A task's leases; with no agent, that task id across every agent (task ids are agent-chosen).</summary>
    public sealed record Task(string? AgentId, string TaskId) : RevokeSelector;

    public sealed record Agent(string AgentId) : RevokeSelector;

    /// <summary>Fleet-wide: every agent whose id matches the glob. Needs confirmation.</summary>
    public sealed record AgentPattern(string Pattern) : RevokeSelector;

    /// <summary>Everything. Needs confirmation.</summary>
    public sealed record All : RevokeSelector;

    public bool IsBroad => this is AgentPattern or All;
}

public sealed record RevokeSummary(int Matched, int Revoked, int AlreadyRevoked, int Failed, IReadOnlyList<LeaseRevocationOutcome> Outcomes);

/// <summary>Who may use the admin API: attested principals matching one of these globs. Agents never.</summary>
public sealed class AdminOptions
{
    public List<string> Principals { get; set; } = [];

    public IEnumerable<string> Validate()
    {
        foreach (var p in Principals)
        {
            if (!Glob.TryParse(p, out _, out var error))
            {
                yield return $"Admin:Principals '{p}': {error}.";
            }
            else if (p is "*" or "**")
            {
                yield return "Admin:Principals must not be '*' or '**': that would make every agent an operator.";
            }
        }
    }
}

/// <summary>
/// The operator's side of the broker: see every lease, revoke by any selector, block agents, decide
/// approvals. Every call is authorised against the admin list and audited with the operator as actor.
/// </summary>
public sealed class BrokerAdministration
{
    public const string ReasonNotAdmin = "admin.not_an_admin";
    public const string ReasonConfirm = "admin.confirmation_required";

    private readonly AttestorRegistry _attestors;
    private readonly Glob[] _admins;
    private readonly CredentialBroker _broker;
    private readonly ILeaseStore _leases;
    private readonly IKillSwitch _killSwitch;
    private readonly ApprovalService _approvals;
    private readonly IAuditLog _audit;
    private readonly TimeProvider _time;

    public BrokerAdministration(AttestorRegistry attestors, AdminOptions options, CredentialBroker broker, BrokerCollaborators collaborators, TimeProvider time)
    {
        _attestors = attestors;
        _admins = [.. options.Principals.Select(Glob.Parse)];
        _broker = broker;
        _leases = collaborators.Leases;
        _killSwitch = collaborators.KillSwitch;
        _approvals = collaborators.Approvals;
        _audit = collaborators.Audit;
        _time = time;
    }

    /// <summary>Attests the caller and requires an admin principal; PermissionDenied for everyone else.</summary>
    public async Task<WorkloadIdentity> AuthorizeAsync(AttestationEvidence evidence, CancellationToken cancellationToken = default)
    {
        var caller = await _attestors.AttestAsync(evidence, cancellationToken).ConfigureAwait(false);
        return _admins.Any(a => a.IsMatch(caller.Id))
            ? caller
            : throw new BrokerException(BrokerFailure.PermissionDenied, ReasonNotAdmin, "The admin API is for configured operators only.");
    }

    public Task<LeasePage> ListLeasesAsync(LeaseQuery query, CancellationToken cancellationToken = default) =>
        _leases.ListAsync(query with { PageSize = Math.Clamp(query.PageSize, 1, 1000) }, cancellationToken);

    public async Task<RevokeSummary> RevokeAsync(WorkloadIdentity admin, RevokeSelector selector, bool confirmed, string reason,
        IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        if (selector.IsBroad && !confirmed)
        {
            throw new BrokerException(BrokerFailure.FailedPrecondition, ReasonConfirm,
                "Revoking by pattern or everything needs explicit confirmation (confirm = true).");
        }

        var targets = await SelectAsync(selector, cancellationToken).ConfigureAwait(false);
        var all = await _broker.WithDescendantsAsync(targets, cancellationToken).ConfigureAwait(false);
        var outcomes = new List<LeaseRevocationOutcome>(all.Count);
        foreach (var lease in all)
        {
            outcomes.Add(await _broker.RevokeNowAsync(lease, cancellationToken).ConfigureAwait(false));
            progress?.Report(outcomes.Count);
        }

        var summary = Summarize(outcomes);
        await _audit.AppendAsync(new AuditEvent
        {
            Type = AuditEventTypes.LeaseRevoked, Actor = admin.Id, Reason = "admin.revoke",
            Detail = $"{Describe(selector)}: {summary.Revoked} revoked, {summary.Failed} failed, {summary.AlreadyRevoked} already revoked; {reason}",
        }, cancellationToken).ConfigureAwait(false);
        return summary;
    }

    /// <summary>Blocks first (no new credentials from this instant), then revokes everything the pattern covers.</summary>
    public async Task<(AgentBlock Block, RevokeSummary Revocations)> BlockAsync(WorkloadIdentity admin, string pattern, string reason,
        CancellationToken cancellationToken = default)
    {
        if (!Glob.TryParse(pattern, out _, out var error))
        {
            throw new BrokerException(BrokerFailure.InvalidArgument, Reasons.RequestInvalid, $"pattern: {error}");
        }

        if (string.IsNullOrWhiteSpace(reason))
        {
            throw new BrokerException(BrokerFailure.InvalidArgument, Reasons.RequestInvalid, "A block needs a reason.");
        }

        var block = new AgentBlock(pattern, reason, admin.Id, _time.GetUtcNow());
        await _killSwitch.BlockAsync(block, cancellationToken).ConfigureAwait(false);
        await _audit.AppendAsync(new AuditEvent { Type = AuditEventTypes.AgentBlocked, AgentId = pattern, Actor = admin.Id, Detail = reason },
            cancellationToken).ConfigureAwait(false);
        var revocations = await RevokeAsync(admin, new RevokeSelector.AgentPattern(pattern), confirmed: true, "kill switch: " + reason,
            cancellationToken: cancellationToken).ConfigureAwait(false);
        return (block, revocations);
    }

    public async Task<bool> UnblockAsync(WorkloadIdentity admin, string pattern, CancellationToken cancellationToken = default)
    {
        var removed = await _killSwitch.UnblockAsync(pattern, cancellationToken).ConfigureAwait(false);
        if (removed)
        {
            await _audit.AppendAsync(new AuditEvent { Type = AuditEventTypes.AgentUnblocked, AgentId = pattern, Actor = admin.Id },
                cancellationToken).ConfigureAwait(false);
        }

        return removed;
    }

    public ValueTask<IReadOnlyList<AgentBlock>> ListBlocksAsync(CancellationToken cancellationToken = default) => _killSwitch.ListAsync(cancellationToken);

    public Task<IReadOnlyList<ApprovalRecord>> ListApprovalsAsync(int max, CancellationToken cancellationToken = default) =>
        _approvals.ListPendingAsync(Math.Clamp(max, 1, 1000), cancellationToken);

    public Task<ApprovalRecord?> GetApprovalAsync(string approvalId, CancellationToken cancellationToken = default) =>
        _approvals.GetAsync(approvalId, cancellationToken);

    public async Task<ApprovalRecord> DecideApprovalAsync(WorkloadIdentity admin, string approvalId, bool approve, string reason,
        CancellationToken cancellationToken = default)
    {
        var decided = await _approvals.DecideAsync(admin, approvalId, approve, reason, cancellationToken).ConfigureAwait(false);
        await _audit.AppendAsync(new AuditEvent
        {
            Type = AuditEventTypes.ApprovalDecided, AgentId = decided.AgentId, TaskId = decided.Request.TaskId, Intent = decided.Request.Intent,
            Decision = approve ? "approved" : "denied", RuleIds = decided.RuleIds, Actor = admin.Id, Detail = $"{approvalId}: {reason}",
        }, cancellationToken).ConfigureAwait(false);
        return decided;
    }

    private async Task<IReadOnlyList<Lease>> SelectAsync(RevokeSelector selector, CancellationToken cancellationToken)
    {
        switch (selector)
        {
            case RevokeSelector.Lease l:
                return await _leases.GetAsync(l.LeaseId, cancellationToken).ConfigureAwait(false) is { } lease ? [lease] : [];
            case RevokeSelector.Task { AgentId: { } agentId } t:
                return await _leases.ListByTaskAsync(agentId, t.TaskId, cancellationToken).ConfigureAwait(false);
            case RevokeSelector.Task t:
                return await CollectAsync(new LeaseQuery { TaskId = t.TaskId }, _ => true, cancellationToken).ConfigureAwait(false);
            case RevokeSelector.Agent a:
                return await CollectAsync(new LeaseQuery { AgentId = a.AgentId }, _ => true, cancellationToken).ConfigureAwait(false);
            case RevokeSelector.AgentPattern p:
                var glob = Glob.TryParse(p.Pattern, out var g, out var error) ? g! :
                    throw new BrokerException(BrokerFailure.InvalidArgument, Reasons.RequestInvalid, $"agent_pattern: {error}");
                return await CollectAsync(new LeaseQuery(), l => glob.IsMatch(l.AgentId), cancellationToken).ConfigureAwait(false);
            default:
                return await CollectAsync(new LeaseQuery(), _ => true, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Every not-yet-revoked lease matching the query and filter (revoked ones need no work).</summary>
    private async Task<IReadOnlyList<Lease>> CollectAsync(LeaseQuery query, Func<Lease, bool> filter, CancellationToken cancellationToken)
    {
        var found = new List<Lease>();
        string? page = null;
        do
        {
            var result = await _leases.ListAsync(query with { PageSize = 1000, PageToken = page }, cancellationToken).ConfigureAwait(false);
            found.AddRange(result.Leases.Where(l => l.State != LeaseState.Revoked && filter(l)));
            page = result.NextPageToken;
        }
        while (page is not null);

        return found;
    }

    private static RevokeSummary Summarize(List<LeaseRevocationOutcome> outcomes) => new(
        outcomes.Count,
        outcomes.Count(o => o.Outcome == LeaseOutcomeKind.Revoked),
        outcomes.Count(o => o.Outcome == LeaseOutcomeKind.AlreadyRevoked),
        outcomes.Count(o => o.Outcome == LeaseOutcomeKind.Failed),
        outcomes);

    private static string Describe(RevokeSelector selector) => selector switch
    {
        RevokeSelector.Lease l => "lease " + l.LeaseId,
        RevokeSelector.Task t => $"task {t.TaskId} of {t.AgentId ?? "any agent"}",
        RevokeSelector.Agent a => "agent " + a.AgentId,
        RevokeSelector.AgentPattern p => "agents matching " + p.Pattern,
        _ => "all leases",
    };
}
