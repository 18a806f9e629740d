using Microsoft.Extensions.Logging;

namespace JitBroker.Core;

/// <summary>
/// The backstop behind bulk revocation: finds live leases that should already be on their way out and schedules
/// them — delegated leases whose parent is no longer active, and leases of agents a block covers (a replica that
/// died between recording a block and scheduling its leases leaves exactly that behind). In a healthy ledger it
/// finds nothing; whatever it does find is logged. It also runs <see cref="UnauditedRevocationRecovery"/>, which says
/// this replica is alive and writes the revocation records replicas owe.
/// </summary>
public sealed partial class RevocationConsistency
{
    private readonly IRevocationSchedule _schedule;
    private readonly IKillSwitch _killSwitch;
    private readonly TimeProvider _time;
    private readonly ILogger<RevocationConsistency> _log;
    private readonly UnauditedRevocationRecovery? _recovery;

    /// <param name="recovery">Where the ledger outlives replicas (Redis): writes the records dead replicas owed.</param>
    public RevocationConsistency(IRevocationSchedule schedule, IKillSwitch killSwitch, TimeProvider time, ILogger<RevocationConsistency> log,
        UnauditedRevocationRecovery? recovery = null)
    {
        _schedule = schedule;
        _killSwitch = killSwitch;
        _time = time;
        _log = log;
        _recovery = recovery;
    }

    /// <summary>One pass; returns how many leases it scheduled.</summary>
    public async Task<long> RunOnceAsync(CancellationToken cancellationToken = default)
    {
        if (_recovery is not null)
        {
            await _recovery.RunOnceAsync(cancellationToken).ConfigureAwait(false);
        }

        var now = _time.GetUtcNow();
        var orphans = await _schedule.ScheduleOrphansAsync(now, cancellationToken).ConfigureAwait(false);
        var blocks = (await _killSwitch.ListAsync(cancellationToken).ConfigureAwait(false)).Where(b => b.AppliesAt(now)).ToList();
        long blocked = 0;
        if (blocks.Count > 0)
        {
            var globs = blocks.Select(b => GlobPattern.Parse(b.Pattern)).ToList();
            var agents = (await _schedule.ListAgentsAsync(cancellationToken).ConfigureAwait(false)).Where(a => globs.Any(g => g.IsMatch(a))).ToList();
            if (agents.Count > 0)
            {
                blocked = (await _schedule.ScheduleAgentsAsync(agents, now, batchId: null, cancellationToken).ConfigureAwait(false)).Scheduled;
            }
        }

        if (orphans + blocked > 0)
        {
            LogFound(_log, orphans, blocked);
        }

        return orphans + blocked;
    }

    [LoggerMessage(EventId = 1301, EventName = "RevocationConsistencyFound", Level = LogLevel.Warning,
        Message = "Consistency sweep scheduled {Orphans} delegated lease(s) with a dead parent and {Blocked} lease(s) of blocked agents")]
    private static partial void LogFound(ILogger logger, long orphans, long blocked);
}
