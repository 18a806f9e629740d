using Microsoft.Extensions.Logging;

namespace JitBroker.Core.Handlers;

/// <summary>The operator's kill switch: block an agent (or a pattern of agents), lift a block, list the blocks in force.</summary>
public sealed partial class KillSwitchHandler
{
    /// <summary>Longest block with an expiry; longer means "until unblocked", which is said by giving none.</summary>
    public static readonly TimeSpan MaxBlockDuration = TimeSpan.FromDays(366);

    /// <summary>Longest reason kept with a block or an unblock (it lands in the kill-switch list and the audit chain).</summary>
    public const int MaxReasonLength = 1024;

    private readonly IKillSwitch _killSwitch;
    private readonly OperatorRevocation _revocation;
    private readonly IAuditLog _audit;
    private readonly TimeProvider _time;
    private readonly BlockOperations _operations;
    private readonly IRevocationSignals? _signals;
    private readonly ILogger<KillSwitchHandler>? _log;

    /// <param name="signals">Shared Signals: one subject-level event per blocked agent, before the per-credential ones; null when off.</param>
    public KillSwitchHandler(IKillSwitch killSwitch, OperatorRevocation revocation, IAuditLog audit, BlockOperations operations, TimeProvider time,
        IRevocationSignals? signals = null, ILogger<KillSwitchHandler>? log = null)
    {
        _operations = operations;
        _signals = signals;
        _log = log;
        _killSwitch = killSwitch;
        _revocation = revocation;
        _audit = audit;
        _time = time;
    }

    /// <summary>
    /// Blocks first — durably, before anything else: from this instant every credential of a matching agent, and
    /// every credential delegated from one, is refused by introspection, renewal and delegation — then schedules
    /// all of them for revocation at their backends.
    /// </summary>
    public async Task<(AgentBlock Block, RevokeSummary Revocations)> BlockAsync(WorkloadIdentity admin, string pattern, string reason,
        TimeSpan? duration = null, CancellationToken cancellationToken = default)
    {
        var glob = OperatorRevocation.ParsePattern(pattern);
        RequireReason(reason, "A block");
        if (duration is { } d && (d <= TimeSpan.Zero || d > MaxBlockDuration))
        {
            throw new BrokerException(BrokerFailure.InvalidArgument, Reasons.RequestInvalid,
                $"A block's duration must be positive and at most {MaxBlockDuration.TotalDays:0} days (omit it for a block until unblocked).");
        }

        var now = _time.GetUtcNow();
        var block = new AgentBlock(pattern, reason, admin.Id, now) { ExpiresAt = now + duration };
        await _killSwitch.BlockAsync(block, cancellationToken).ConfigureAwait(false);
        await SignalSubjectsAsync(glob, now).ConfigureAwait(false);
        // Recorded: from here on nothing depends on the caller still waiting. Containment before bookkeeping: the
        // leases are scheduled before the block's own audit record, so an audit outage cannot hold up revocation.
        var revocations = await _revocation.ScheduleAsync(admin, new RevokeSelector.AgentPattern(pattern), glob, "kill switch: " + reason).ConfigureAwait(false);
        _operations.Started(new BlockOperation(revocations.BatchId, pattern, reason, admin.Id, now, revocations));
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

    /// <summary>Blocks in force now (an expired block refuses nothing and is not shown).</summary>
    public async Task<IReadOnlyList<AgentBlock>> ListBlocksAsync(CancellationToken cancellationToken = default)
    {
        var now = _time.GetUtcNow();
        return [.. (await _killSwitch.ListAsync(cancellationToken).ConfigureAwait(false)).Where(b => b.AppliesAt(now))];
    }

    /// <summary>
    /// The fast path to relying parties (docs/ssf.md, "Kill switch"): the block is recorded, so no credential of these
    /// agents can be issued any more and "every token of agent A issued at or before now" is exactly what the schedule
    /// below revokes. Queued before the per-lease revocations so it overtakes them; if it cannot be queued, those still
    /// signal every credential one by one — logged, never a reason to hold the kill switch up.
    /// </summary>
    private async Task SignalSubjectsAsync(GlobPattern glob, DateTimeOffset now)
    {
        if (_signals is null)
        {
            return;
        }

        try
        {
            var agents = await _revocation.AgentsMatchingAsync(glob).ConfigureAwait(false);
            if (agents.Count > 0)
            {
                await _signals.SubjectsRevokedAsync(agents, now, CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            if (_log is not null)
            {
                LogSubjectSignalFailed(_log, ex);
            }
        }
    }

    [LoggerMessage(EventId = 1570, EventName = "KillSwitchSubjectSignalFailed", Level = LogLevel.Warning,
        Message = "The kill switch's subject-level revocation signal could not be queued; relying parties hear of each credential one by one")]
    private static partial void LogSubjectSignalFailed(ILogger logger, Exception exception);

    private static void RequireReason(string reason, string what)
    {
        if (string.IsNullOrWhiteSpace(reason) || reason.Length > MaxReasonLength)
        {
            throw new BrokerException(BrokerFailure.InvalidArgument, Reasons.RequestInvalid, $"{what} needs a reason of at most {MaxReasonLength} characters.");
        }
    }
}
