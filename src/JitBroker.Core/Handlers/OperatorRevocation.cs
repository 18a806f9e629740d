namespace JitBroker.Core.Handlers;

/// <summary>
/// Turns an operator's selector into durable schedule entries (<see cref="IRevocationSchedule"/>: the selected leases
/// and everything delegated from them, in the ledger's atomic steps) and audits it with the operator as actor. Shared by
/// revocation and the kill switch; the sweepers of every replica then revoke through <see cref="LeaseRevoker"/>.
/// Never honours the caller's cancellation: an operator's deadline may cut the answer short, never the work.
/// </summary>
public sealed class OperatorRevocation
{
    private readonly ILeaseLedger _ledger;
    private readonly ILeaseQueries _queries;
    private readonly IRevocationSchedule _schedule;
    private readonly IAuditLog _audit;
    private readonly TimeProvider _time;

    public OperatorRevocation(ILeaseLedger ledger, ILeaseQueries queries, IRevocationSchedule schedule, IAuditLog audit, TimeProvider time)
    {
        _ledger = ledger;
        _queries = queries;
        _schedule = schedule;
        _audit = audit;
        _time = time;
    }

    /// <summary>Schedules what <paramref name="selector"/> names; <paramref name="pattern"/> is the parsed glob of an <see cref="RevokeSelector.AgentPattern"/>.</summary>
    public async Task<RevokeSummary> ScheduleAsync(WorkloadIdentity admin, RevokeSelector selector, GlobPattern? pattern, string reason)
    {
        var batchId = RevocationBatchIds.New();
        var now = _time.GetUtcNow();
        var none = CancellationToken.None;
        var batch = selector switch
        {
            RevokeSelector.Lease l => await _schedule.ScheduleLeasesAsync([l.LeaseId], now, batchId, none).ConfigureAwait(false),
            RevokeSelector.Task { AgentId: { } agentId } t => await _schedule.ScheduleLeasesAsync(
                [.. (await _ledger.ListByTaskAsync(agentId, t.TaskId, none).ConfigureAwait(false)).Select(x => x.LeaseId)], now, batchId, none).ConfigureAwait(false),
            RevokeSelector.Task t => await _schedule.ScheduleLeasesAsync(
                await CollectAsync(new LeaseQuery { TaskId = t.TaskId }, none).ConfigureAwait(false), now, batchId, none).ConfigureAwait(false),
            RevokeSelector.Agent a => await _schedule.ScheduleAgentsAsync([a.AgentId], now, batchId, none).ConfigureAwait(false),
            _ => await _schedule.ScheduleAgentsAsync(
                pattern is null ? await _schedule.ListAgentsAsync(none).ConfigureAwait(false) : await AgentsMatchingAsync(pattern).ConfigureAwait(false),
                now, batchId, none).ConfigureAwait(false),
        };

        var summary = new RevokeSummary(batchId, batch.Scheduled, batch.InProgress, batch.AlreadyRevoked);
        await _audit.AppendAsync(new AuditEvent
        {
            Type = AuditEventTypes.RevocationScheduled, Actor = admin.Id, Reason = "admin.revoke",
            Detail = $"{Describe(selector)}: {summary.Scheduled} scheduled, {summary.InProgress} already being revoked, {summary.AlreadyRevoked} already revoked (batch {batchId}); {reason}",
        }, none).ConfigureAwait(false);
        return summary;
    }

    /// <summary>Agents holding at least one remembered lease whose id matches <paramref name="pattern"/>.</summary>
    public async Task<IReadOnlyList<string>> AgentsMatchingAsync(GlobPattern pattern) =>
        [.. (await _schedule.ListAgentsAsync(CancellationToken.None).ConfigureAwait(false)).Where(pattern.IsMatch)];

    internal static GlobPattern ParsePattern(string pattern) =>
        GlobPattern.TryParse(pattern, out var glob, out var error) ? glob : throw new BrokerException(BrokerFailure.InvalidArgument, Reasons.PatternInvalid, $"pattern: {error}");

    /// <summary>Ids of every not-yet-revoked lease matching the query (revoked ones need no work).</summary>
    private async Task<IReadOnlyCollection<string>> CollectAsync(LeaseQuery query, CancellationToken cancellationToken)
    {
        var found = new List<string>();
        string? page = null;
        do
        {
            var result = await _queries.ListAsync(query with { PageSize = 1000, PageToken = page }, cancellationToken).ConfigureAwait(false);
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
