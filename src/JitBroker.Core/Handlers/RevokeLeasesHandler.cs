namespace JitBroker.Core.Handlers;

/// <summary>An operator's revocation by any selector, and how far it got.</summary>
public sealed class RevokeLeasesHandler
{

    private readonly OperatorRevocation _revocation;
    private readonly IRevocationSchedule _schedule;

    public RevokeLeasesHandler(OperatorRevocation revocation, IRevocationSchedule schedule)
    {
        _revocation = revocation;
        _schedule = schedule;
    }

    /// <summary>
    /// Schedules every lease the selector reaches, and everything delegated from them, for revocation by the sweepers,
    /// audits the operator's action, and returns. Once scheduling has begun the caller's cancellation is no longer honoured.
    /// </summary>
    public async Task<RevokeSummary> RevokeAsync(WorkloadIdentity admin, RevokeSelector selector, bool confirmed, string reason,
        CancellationToken cancellationToken = default)
    {
        if (selector.IsBroad && !confirmed)
        {
            throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Admin.ConfirmationRequired,
                "Revoking by pattern or everything needs explicit confirmation (confirm = true).");
        }

        var pattern = selector is RevokeSelector.AgentPattern p ? OperatorRevocation.ParsePattern(p.Pattern) : null;
        cancellationToken.ThrowIfCancellationRequested();
        return await _revocation.ScheduleAsync(admin, selector, pattern, reason).ConfigureAwait(false);
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
}
