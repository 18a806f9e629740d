namespace JitBroker.Revocation;

/// <summary>How the expiry sweeper runs. Validated when revocation is registered.</summary>
public sealed class RevocationOptions
{
    /// <summary>Where the host binds these options; every validation message names its key under this path.</summary>
    public const string SectionPath = "JitBroker:Revocation";

    /// <summary>
    /// Longest the sweeper sleeps without looking at the schedule. It wakes when the earliest lease is due (the store's
    /// next due time, or a lease this process stores due sooner); this bound is for what only a look finds — leases other
    /// replicas stored since the last look. An idle look is one small Redis script per bucket, so 1 s keeps an idle broker
    /// at one call a second on one Redis (docs/revocation.md).
    /// </summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How many due leases one claim takes from the store.</summary>
    public int BatchSize { get; set; } = 500;

    /// <summary>
    /// How many revocations run at once within a batch. Revocations wait mostly on I/O (the audit fsync is
    /// group-committed, Vault calls), so concurrency, not CPU, bounds the sweep rate.
    /// </summary>
    public int MaxParallelRevocations { get; set; } = 256;

    /// <summary>
    /// How often the consistency sweep looks for live leases that should already be revoking: delegated leases
    /// with a dead parent, leases of blocked agents (see <c>RevocationConsistency</c>). A backstop, not the path.
    /// </summary>
    public TimeSpan ConsistencyInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// With a Redis ledger: how old an outbox entry (a revocation marked, its <c>lease.revoked</c> record not yet
    /// acknowledged) must be before a consistency pass writes the record in its owner's place. Each pass also renews
    /// this replica's heartbeat for <see cref="HeartbeatTtl"/>; a replica's outbox is only taken over once that lapsed.
    /// </summary>
    public TimeSpan UnauditedGrace { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How long one consistency pass's heartbeat keeps this replica "alive": three intervals.</summary>
    public TimeSpan HeartbeatTtl => ConsistencyInterval * 3;

    /// <summary>Returns one message per invalid setting; empty when the options are usable.</summary>
    public IEnumerable<string> Validate()
    {
        if (SweepInterval < TimeSpan.FromMilliseconds(10))
        {
            yield return $"{SectionPath}:SweepInterval must be at least 10ms.";
        }

        if (SweepInterval > TimeSpan.FromMinutes(5))
        {
            // Expired credentials stay live at their backend until swept; minutes is already generous.
            yield return $"{SectionPath}:SweepInterval must be at most 5 minutes.";
        }

        if (ConsistencyInterval < TimeSpan.FromSeconds(1) || ConsistencyInterval > TimeSpan.FromHours(1))
        {
            yield return $"{SectionPath}:ConsistencyInterval must lie between 1 second and 1 hour.";
        }

        if (UnauditedGrace <= HeartbeatTtl || UnauditedGrace > TimeSpan.FromDays(1))
        {
            // Shorter than a heartbeat's life, a live replica's records in flight could be written twice.
            yield return $"{SectionPath}:UnauditedGrace must exceed three ConsistencyIntervals and be at most 1 day.";
        }

        if (BatchSize is < 1 or > 10_000)
        {
            yield return $"{SectionPath}:BatchSize must lie between 1 and 10000.";
        }

        if (MaxParallelRevocations is < 1 or > 256)
        {
            yield return $"{SectionPath}:MaxParallelRevocations must lie between 1 and 256.";
        }
    }
}
