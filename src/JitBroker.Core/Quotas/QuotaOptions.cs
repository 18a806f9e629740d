namespace JitBroker.Core;

/// <summary>
/// Broker-wide quotas (<c>JitBroker:Broker:Quotas</c>): the per-agent defaults every request is held to, plus the
/// broker-wide cap on approval waits and how often quota refusals are audited. A policy rule's <c>quota</c> block can
/// only tighten the per-agent ones. Unset per-agent limits are off; the approval limits are on by default because a
/// waiting RequestCredential holds a connection and a pending approval holds an approver's attention.
/// </summary>
public sealed class QuotaOptions
{
    public const string SectionPath = BrokerOptions.SectionPath + ":Quotas";

    /// <inheritdoc cref="QuotaLimits.RatePerSecond"/>
    public double? RatePerSecond { get; set; }

    /// <summary>Bucket size; defaults to the rate rounded up (one second's worth), at least 1.</summary>
    public int? Burst { get; set; }

    public int? MaxActiveLeasesPerAgent { get; set; }

    public int? MaxActiveLeasesPerTask { get; set; }

    public int? MaxPendingApprovalsPerAgent { get; set; } = 16;

    public int? MaxApprovalWaitsPerAgent { get; set; } = 4;

    /// <summary>Concurrent <c>await_approval</c> waits over all agents on this replica (each holds an open call).</summary>
    public int MaxApprovalWaits { get; set; } = 256;

    /// <summary>A quota refusal is audited once per agent, reason and window; the rest are counted into the next record.</summary>
    public TimeSpan AuditWindow { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Most agents whose rate buckets and audit windows one replica keeps; idle ones are dropped first.</summary>
    public int MaxTrackedAgents { get; set; } = 100_000;

    // The last value Limits built. Read on every request, so it is reused while the inputs match it; the setters stay
    // plain (tests and binding set options after construction), which is why each read compares rather than trusts it.
    private QuotaLimits? _limits;

    /// <summary>The per-agent limits as one value.</summary>
    public QuotaLimits Limits
    {
        get
        {
            var burst = RatePerSecond is { } rate ? Burst ?? Math.Max(1, (int)Math.Ceiling(rate)) : Burst;
            // One read of the field: another thread may replace it, never leave it half-written.
            if (_limits is { } cached && cached.RatePerSecond == RatePerSecond && cached.Burst == burst
                && cached.MaxActiveLeasesPerAgent == MaxActiveLeasesPerAgent && cached.MaxActiveLeasesPerTask == MaxActiveLeasesPerTask
                && cached.MaxPendingApprovalsPerAgent == MaxPendingApprovalsPerAgent && cached.MaxApprovalWaitsPerAgent == MaxApprovalWaitsPerAgent)
            {
                return cached;
            }

            return _limits = new QuotaLimits
            {
                RatePerSecond = RatePerSecond,
                Burst = burst,
                MaxActiveLeasesPerAgent = MaxActiveLeasesPerAgent,
                MaxActiveLeasesPerTask = MaxActiveLeasesPerTask,
                MaxPendingApprovalsPerAgent = MaxPendingApprovalsPerAgent,
                MaxApprovalWaitsPerAgent = MaxApprovalWaitsPerAgent,
            };
        }
    }

    public IEnumerable<string> Validate()
    {
        foreach (var problem in new QuotaLimits
        {
            RatePerSecond = RatePerSecond, Burst = Burst, MaxActiveLeasesPerAgent = MaxActiveLeasesPerAgent,
            MaxActiveLeasesPerTask = MaxActiveLeasesPerTask, MaxPendingApprovalsPerAgent = MaxPendingApprovalsPerAgent,
            MaxApprovalWaitsPerAgent = MaxApprovalWaitsPerAgent,
        }.Problems(SectionPath))
        {
            yield return problem;
        }

        if (MaxApprovalWaits is < 1 or > 100_000)
        {
            yield return $"{SectionPath}:MaxApprovalWaits must be between 1 and 100000.";
        }

        if (MaxApprovalWaitsPerAgent > MaxApprovalWaits)
        {
            yield return $"{SectionPath}:MaxApprovalWaitsPerAgent cannot exceed {SectionPath}:MaxApprovalWaits.";
        }

        if (AuditWindow < TimeSpan.FromSeconds(1) || AuditWindow > TimeSpan.FromHours(1))
        {
            yield return $"{SectionPath}:AuditWindow must be between 1 second and 1 hour.";
        }

        if (MaxTrackedAgents is < 100 or > 10_000_000)
        {
            yield return $"{SectionPath}:MaxTrackedAgents must be between 100 and 10000000.";
        }
    }
}
