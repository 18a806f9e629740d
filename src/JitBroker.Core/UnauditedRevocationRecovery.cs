using Microsoft.Extensions.Logging;

namespace JitBroker.Core;

/// <summary>
/// Turns the ledger's outbox (<see cref="IRevocationOutbox"/>) into exactly one <c>lease.revoked</c> record per revoked
/// lease. For each owner with entries — this replica's own entries from before it started, any of its own whose record
/// failed (older than the grace (<c>Revocation:UnauditedGrace</c>) and not still being written), and the entries of replicas whose heartbeat has
/// lapsed — it searches the owner's chain and the chains of earlier recoverers of that outbox, writes to this replica's
/// chain a record for every lease found in none of them, and acknowledges the entries.
/// </summary>
/// <remarks>
/// Exactly once rests on two facts: a record is in its replica's searchable chain (the Redis mirror, written before
/// the file) before the entry is acknowledged, and only one recoverer works an outbox at a time while every
/// recoverer's chain is searched. A replica declared dead that is in fact alive could still be writing records older
/// than <see cref="Grace"/>; the heartbeat lapsing for that long means it could not reach Redis, where its audit
/// mirror lives, so its own write would have failed.
/// </remarks>
public sealed partial class UnauditedRevocationRecovery
{
    private const int MaxPerPass = 10_000;
    private const int WriteParallelism = 64;

    /// <summary>How far before an entry's mark time its record may carry a time-based stream id (clock differences).</summary>
    private static readonly TimeSpan ClockSlack = TimeSpan.FromMinutes(1);

    private readonly IRevocationOutbox _outbox;
    private readonly IAuditChainIndex _chains;
    private readonly ILeaseLedger _leases;
    private readonly IAuditLog _audit;
    private readonly RevocationAuditTrail _trail;
    private readonly TimeProvider _time;
    private readonly ILogger<UnauditedRevocationRecovery> _log;
    private readonly DateTimeOffset _startedAt;
    private readonly TimeSpan _grace;
    private readonly TimeSpan _heartbeatTtl;
    private int _beating;
    private long _lastBeatTicks;

    public UnauditedRevocationRecovery(IRevocationOutbox outbox, IAuditChainIndex chains, ILeaseLedger leases, IAuditLog audit,
        RevocationAuditTrail trail, TimeProvider time, ILogger<UnauditedRevocationRecovery> log, TimeSpan heartbeatTtl, TimeSpan grace)
    {
        _heartbeatTtl = heartbeatTtl;
        _outbox = outbox;
        _chains = chains;
        _leases = leases;
        _audit = audit;
        _trail = trail;
        _time = time;
        _log = log;
        _grace = grace;
        _startedAt = time.GetUtcNow();
        Self = trail.Owner ?? throw new ArgumentException("The audit trail has no owner: revocations are not tracked.", nameof(trail));
    }

    /// <summary>This replica's identity.</summary>
    public string Self { get; }

    /// <summary>Renews this replica's heartbeat, then one pass over every owner; returns how many records it wrote.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken = default)
    {
        await BeatAsync(force: true, cancellationToken).ConfigureAwait(false);
        var written = 0;
        foreach (var owner in await _outbox.ListUnauditedOwnersAsync(cancellationToken).ConfigureAwait(false))
        {
            written += await RecoverAsync(owner, cancellationToken).ConfigureAwait(false);
        }

        return written;
    }

    private async Task<int> RecoverAsync(string owner, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var before = owner == Self ? Max(_startedAt, now - _grace) : now - _grace;
        var recoverers = await _outbox.BeginRecoveryAsync(owner, Self, TimeSpan.FromMinutes(5), cancellationToken).ConfigureAwait(false);
        if (recoverers is null)
        {
            return 0; // its owner is alive, or another replica is recovering it
        }

        try
        {
            var entries = (await _outbox.ListUnauditedAsync(owner, before, MaxPerPass, cancellationToken).ConfigureAwait(false))
                .Where(e => owner != Self || !_trail.IsPending(e.LeaseId)).ToList();
            if (entries.Count == 0)
            {
                return 0;
            }

            var since = entries.Min(e => e.RevokedAt) - ClockSlack;
            var recorded = new HashSet<string>(StringComparer.Ordinal);
            foreach (var chain in recoverers.Append(owner).Distinct(StringComparer.Ordinal))
            {
                recorded.UnionWith(await _chains.RevokedLeaseIdsAsync(chain, since, cancellationToken).ConfigureAwait(false));
            }

            // Not in any chain's index, and not written by this process either (a failover can lose the index entry of a
            // record this replica did write: RecentRevocationRecords).
            var missing = entries.Where(e => !recorded.Contains(e.LeaseId) && _trail.TryClaimRecord(e.LeaseId)).ToList();
            var written = new System.Collections.Concurrent.ConcurrentDictionary<string, byte>(StringComparer.Ordinal);
            try
            {
                await Parallel.ForEachAsync(missing, new ParallelOptions { MaxDegreeOfParallelism = WriteParallelism, CancellationToken = cancellationToken },
                    async (entry, ct) =>
                    {
                        await BeatAsync(force: false, ct).ConfigureAwait(false);
                        await _audit.AppendAsync(await RecoveredEventAsync(owner, entry, ct).ConfigureAwait(false), ct).ConfigureAwait(false);
                        written[entry.LeaseId] = 0;
                    }).ConfigureAwait(false);
            }
            catch
            {
                // What was not written stays owed: the next pass claims it again.
                foreach (var entry in missing.Where(e => !written.ContainsKey(e.LeaseId)))
                {
                    _trail.ReleaseRecord(entry.LeaseId);
                }

                throw;
            }

            await BeatAsync(force: false, cancellationToken).ConfigureAwait(false);
            await _outbox.AcknowledgeAuditedAsync(owner, [.. entries.Select(e => e.LeaseId)], cancellationToken).ConfigureAwait(false);
            LogRecovered(_log, owner, entries.Count, missing.Count);
            return missing.Count;
        }
        finally
        {
            await _outbox.EndRecoveryAsync(owner, Self, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private async Task<AuditEvent> RecoveredEventAsync(string owner, UnauditedRevocation entry, CancellationToken cancellationToken)
    {
        var detail = $"recovered: marked revoked at {entry.RevokedAt:O} by replica {owner}, whose record of it was not written";
        // The lease is normally still remembered (revoked leases are kept for a retention); if not, the id must do.
        return await _leases.GetAsync(entry.LeaseId, cancellationToken).ConfigureAwait(false) is { } lease
            ? RevocationAuditTrail.EventOf(AuditEventTypes.LeaseRevoked, lease, detail)
            : new AuditEvent { Type = AuditEventTypes.LeaseRevoked, LeaseId = entry.LeaseId, Detail = detail };
    }

    /// <summary>
    /// Renews this replica's heartbeat — at every pass, and within a long pass once a third of its life has gone: a hold
    /// on an outbox counts only while its holder's heartbeat lives (a recoverer killed mid-pass must not block the outbox),
    /// so a live recoverer keeps it fresh while it writes, or another replica could recover the same entries beside it.
    /// </summary>
    private async ValueTask BeatAsync(bool force, CancellationToken cancellationToken)
    {
        var now = _time.GetTimestamp();
        if (!force && _time.GetElapsedTime(Interlocked.Read(ref _lastBeatTicks), now) < _heartbeatTtl / 3)
        {
            return;
        }

        if (!force && Interlocked.CompareExchange(ref _beating, 1, 0) != 0)
        {
            return; // another writer of this pass is renewing it
        }

        try
        {
            await _outbox.HeartbeatAsync(Self, _heartbeatTtl, cancellationToken).ConfigureAwait(false);
            Interlocked.Exchange(ref _lastBeatTicks, now);
        }
        finally
        {
            if (!force)
            {
                Volatile.Write(ref _beating, 0);
            }
        }
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    [LoggerMessage(EventId = 1302, EventName = "UnauditedRevocationsRecovered", Level = LogLevel.Warning,
        Message = "Outbox of replica {Owner}: {Entries} revocation(s) checked, {Written} lease.revoked record(s) recovered")]
    private static partial void LogRecovered(ILogger logger, string owner, int entries, int written);
}
