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

/// <summary>
/// What a bulk revocation scheduled. The revoking itself is done by the sweepers of every replica; follow it with
/// <see cref="BrokerAdministration.GetProgressAsync"/> and <see cref="BatchId"/>.
/// </summary>
public sealed record RevokeSummary(string BatchId, long Scheduled, long InProgress, long AlreadyRevoked)
{
    /// <summary>Leases the selector (and delegation) reached, revoked ones included.</summary>
    public long Matched => Scheduled + InProgress + AlreadyRevoked;

    /// <summary>Leases the batch waits for.</summary>
    public long Pending => Scheduled + InProgress;
}

/// <summary>Who may use the admin API: attested principals matching one of these globs. Agents never.</summary>
public sealed class AdminOptions
{
    public List<string> Principals { get; set; } = [];

    public IEnumerable<string> Validate()
    {
        foreach (var p in Principals)
        {
            // The same anchoring rule as a policy's approvers: '*', '**' or 'https://*.example/…' would make agents operators.
            if ((GlobPattern.TryParse(p, out _, out var error) ? GlobPattern.AnchorProblem(p) : error) is { } problem)
            {
                yield return $"Admin:Principals '{p}': {problem}.";
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

    /// <summary>Longest block with an expiry; longer means "until unblocked", which is said by giving none.</summary>
    public static readonly TimeSpan MaxBlockDuration = TimeSpan.FromDays(366);

    /// <summary>Longest reason kept with a block or an unblock (it lands in the kill-switch list and the audit chain).</summary>
    public const int MaxReasonLength = 1024;

    private readonly AttestorRegistry _attestors;
    private readonly GlobPattern[] _admins;
    private readonly ILeaseStore _leases;
    private readonly IKillSwitch _killSwitch;
    private readonly IRevocationSchedule _schedule;
    private readonly ApprovalService _approvals;
    private readonly IAuditLog _audit;
    private readonly TimeProvider _time;

    public BrokerAdministration(AttestorRegistry attestors, AdminOptions options, BrokerCollaborators collaborators, IRevocationSchedule schedule,
        TimeProvider time)
    {
        _attestors = attestors;
        _admins = [.. options.Principals.Select(GlobPattern.Parse)];
        _schedule = schedule;
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
            : throw new BrokerException(BrokerFailure.PermissionDenied, Reasons.Admin.NotAnAdmin, "The admin API is for configured operators only.");
    }

    public Task<LeasePage> ListLeasesAsync(LeaseQuery query, CancellationToken cancellationToken = default) =>
        _leases.ListAsync(query with { PageSize = Math.Clamp(query.PageSize, 1, 1000) }, cancellationToken);

    /// <summary>
    /// Schedules every lease the selector reaches, and everything delegated from them, for revocation by the
    /// sweepers, audits the operator's action, and returns. Once scheduling has begun the caller's cancellation is
    /// no longer honoured: an operator's deadline may cut the answer short, never the work.
    /// </summary>
    public async Task<RevokeSummary> RevokeAsync(WorkloadIdentity admin, RevokeSelector selector, bool confirmed, string reason,
        CancellationToken cancellationToken = default)
    {
        if (selector.IsBroad && !confirmed)
        {
            throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Admin.ConfirmationRequired,
                "Revoking by pattern or everything needs explicit confirmation (confirm = true).");
        }

        var pattern = selector is RevokeSelector.AgentPattern p ? ParsePattern(p.Pattern) : null;
        cancellationToken.ThrowIfCancellationRequested();
        return await ScheduleAsync(admin, selector, pattern, reason).ConfigureAwait(false);
    }

    /// <summary>
    /// Blocks first — durably, before anything else: from this instant every credential of a matching agent, and
    /// every credential delegated from one, is refused by introspection, renewal and delegation — then schedules
    /// all of them for revocation at their backends.
    /// </summary>
    public async Task<(AgentBlock Block, RevokeSummary Revocations)> BlockAsync(WorkloadIdentity admin, string pattern, string reason,
        TimeSpan? duration = null, CancellationToken cancellationToken = default)
    {
        var glob = ParsePattern(pattern);
        RequireReason(reason, "A block");
        if (duration is { } d && (d <= TimeSpan.Zero || d > MaxBlockDuration))
        {
            throw new BrokerException(BrokerFailure.InvalidArgument, Reasons.RequestInvalid,
                $"A block's duration must be positive and at most {MaxBlockDuration.TotalDays:0} days (omit it for a block until unblocked).");
        }

        var now = _time.GetUtcNow();
        var block = new AgentBlock(pattern, reason, admin.Id, now) { ExpiresAt = now + duration };
        await _killSwitch.BlockAsync(block, cancellationToken).ConfigureAwait(false);
        // Recorded: from here on nothing depends on the caller still waiting. Containment before bookkeeping: the
        // leases are scheduled before the block's own audit record, so an audit outage cannot hold up revocation.
        var revocations = await ScheduleAsync(admin, new RevokeSelector.AgentPattern(pattern), glob, "kill switch: " + reason).ConfigureAwait(false);
        await _audit.AppendAsync(new AuditEvent
        {
            Type = AuditEventTypes.AgentBlocked, AgentId = pattern, Actor = admin.Id,
            Detail = block.ExpiresAt is { } end ? $"{reason} (until {end:O})" : reason,
        }, CancellationToken.None).ConfigureAwait(false);
        return (block, revocations);
    }

    /// <summary>Lifts a block for new requests. Credentials revoked under it stay revoked: unblocking revives nothing.</summary>
    public async Task<bool> UnblockAsync(WorkloadIdentity admin, string pattern, string reason, CancellationToken cancellationToken = default)
    {
        RequireReason(reason, "Unblocking");
        var removed = await _killSwitch.UnblockAsync(pattern, cancellationToken).ConfigureAwait(false);
        if (removed)
        {
            await _audit.AppendAsync(new AuditEvent { Type = AuditEventTypes.AgentUnblocked, AgentId = pattern, Actor = admin.Id, Detail = reason },
                CancellationToken.None).ConfigureAwait(false);
        }

        return removed;
    }

    /// <summary>How far a bulk revocation got; NotFound for an unknown (or long finished) batch.</summary>
    public async Task<RevocationProgress> GetProgressAsync(string batchId, CancellationToken cancellationToken = default)
    {
        if (!RevocationBatchIds.IsWellFormed(batchId))
        {
            throw new BrokerException(BrokerFailure.InvalidArgument, Reasons.RequestInvalid, "revocation_id is not a revocation batch id.");
        }

        return await _schedule.GetProgressAsync(batchId, cancellationToken).ConfigureAwait(false)
            ?? throw new BrokerException(BrokerFailure.NotFound, Reasons.RevocationBatchNotFound, "No such revocation batch (or it finished long ago).");
    }

    /// <summary>Blocks in force now (an expired block refuses nothing and is not shown).</summary>
    public async Task<IReadOnlyList<AgentBlock>> ListBlocksAsync(CancellationToken cancellationToken = default)
    {
        var now = _time.GetUtcNow();
        return [.. (await _killSwitch.ListAsync(cancellationToken).ConfigureAwait(false)).Where(b => b.AppliesAt(now))];
    }

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

    private async Task<RevokeSummary> ScheduleAsync(WorkloadIdentity admin, RevokeSelector selector, GlobPattern? pattern, string reason)
    {
        var batchId = RevocationBatchIds.New();
        var now = _time.GetUtcNow();
        var none = CancellationToken.None;
        var batch = selector switch
        {
            RevokeSelector.Lease l => await _schedule.ScheduleLeasesAsync([l.LeaseId], now, batchId, none).ConfigureAwait(false),
            RevokeSelector.Task { AgentId: { } agentId } t => await _schedule.ScheduleLeasesAsync(
                [.. (await _leases.ListByTaskAsync(agentId, t.TaskId, none).ConfigureAwait(false)).Select(x => x.LeaseId)], now, batchId, none).ConfigureAwait(false),
            RevokeSelector.Task t => await _schedule.ScheduleLeasesAsync(
                await CollectAsync(new LeaseQuery { TaskId = t.TaskId }, none).ConfigureAwait(false), now, batchId, none).ConfigureAwait(false),
            RevokeSelector.Agent a => await _schedule.ScheduleAgentsAsync([a.AgentId], now, batchId, none).ConfigureAwait(false),
            _ => await _schedule.ScheduleAgentsAsync(
                [.. (await _schedule.ListAgentsAsync(none).ConfigureAwait(false)).Where(id => pattern?.IsMatch(id) ?? true)], now, batchId, none).ConfigureAwait(false),
        };

        var summary = new RevokeSummary(batchId, batch.Scheduled, batch.InProgress, batch.AlreadyRevoked);
        await _audit.AppendAsync(new AuditEvent
        {
            Type = AuditEventTypes.RevocationScheduled, Actor = admin.Id, Reason = Reasons.Revocation.AdminRevoke,
            Detail = $"{Describe(selector)}: {summary.Scheduled} scheduled, {summary.InProgress} already being revoked, {summary.AlreadyRevoked} already revoked (batch {batchId}); {reason}",
        }, none).ConfigureAwait(false);
        return summary;
    }

    private static GlobPattern ParsePattern(string pattern) =>
        GlobPattern.TryParse(pattern, out var glob, out var error) ? glob : throw new BrokerException(BrokerFailure.InvalidArgument, Reasons.PatternInvalid, $"pattern: {error}");

    private static void RequireReason(string reason, string what)
    {
        if (string.IsNullOrWhiteSpace(reason) || reason.Length > MaxReasonLength)
        {
            throw new BrokerException(BrokerFailure.InvalidArgument, Reasons.RequestInvalid, $"{what} needs a reason of at most {MaxReasonLength} characters.");
        }
    }

    /// <summary>Ids of every not-yet-revoked lease matching the query (revoked ones need no work).</summary>
    private async Task<IReadOnlyCollection<string>> CollectAsync(LeaseQuery query, CancellationToken cancellationToken)
    {
        var found = new List<string>();
        string? page = null;
        do
        {
            var result = await _leases.ListAsync(query with { PageSize = 1000, PageToken = page }, cancellationToken).ConfigureAwait(false);
            found.AddRange(result.Leases.Where(l => l.State != LeaseState.Revoked).Select(l => l.LeaseId));
            page = result.NextPageToken;
        }
        while (page is not null);

        return found;
    }

    private static string Describe(RevokeSelector selector) => selector switch
    {
        RevokeSelector.Lease l => "lease " + l.LeaseId,
        RevokeSelector.Task t => $"task {t.TaskId} of {t.AgentId ?? "any agent"}",
        RevokeSelector.Agent a => "agent " + a.AgentId,
        RevokeSelector.AgentPattern p => "agents matching " + p.Pattern,
        _ => "all leases",
    };
}
