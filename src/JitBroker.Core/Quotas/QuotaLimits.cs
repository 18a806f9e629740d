namespace JitBroker.Core;

/// <summary>
/// Per-agent limits on what one agent may consume: its request rate (a token bucket), its active leases (in total and
/// per task), its pending approvals and its concurrent approval waits. Null means "not limited here". The broker-wide
/// defaults (<see cref="QuotaOptions"/>) and the matching policy rule's own <c>quota</c> block both apply: where both set
/// a limit, the stricter one wins (<see cref="Tighten"/>), so a rule can narrow an agent but never lift the global ceiling.
/// </summary>
public sealed record QuotaLimits
{
    public static readonly QuotaLimits None = new();

    /// <summary>Sustained requests per second an agent may make (token refill rate).</summary>
    public double? RatePerSecond { get; init; }

    /// <summary>Requests an agent may make at once before the rate applies (bucket size).</summary>
    public int? Burst { get; init; }

    public int? MaxActiveLeasesPerAgent { get; init; }

    public int? MaxActiveLeasesPerTask { get; init; }

    public int? MaxPendingApprovalsPerAgent { get; init; }

    public int? MaxApprovalWaitsPerAgent { get; init; }

    /// <summary>True when a rate is set (a burst alone limits nothing).</summary>
    public bool HasRate => RatePerSecond is not null;

    /// <summary>Each limit the stricter of this and <paramref name="other"/>.</summary>
    public QuotaLimits Tighten(QuotaLimits? other) => other is null || ReferenceEquals(other, None) ? this : new QuotaLimits
    {
        RatePerSecond = Min(RatePerSecond, other.RatePerSecond),
        Burst = Min(Burst, other.Burst),
        MaxActiveLeasesPerAgent = Min(MaxActiveLeasesPerAgent, other.MaxActiveLeasesPerAgent),
        MaxActiveLeasesPerTask = Min(MaxActiveLeasesPerTask, other.MaxActiveLeasesPerTask),
        MaxPendingApprovalsPerAgent = Min(MaxPendingApprovalsPerAgent, other.MaxPendingApprovalsPerAgent),
        MaxApprovalWaitsPerAgent = Min(MaxApprovalWaitsPerAgent, other.MaxApprovalWaitsPerAgent),
    };

    /// <summary>Problems with the values, each prefixed by <paramref name="owner"/> (a configuration path or a rule); empty when sound.</summary>
    public IEnumerable<string> Problems(string owner, string separator = ":")
    {
        if (RatePerSecond is { } rate && (double.IsNaN(rate) || rate <= 0 || rate > 1_000_000))
        {
            yield return $"{owner}{separator}RatePerSecond must be above 0 and at most 1000000.";
        }

        if (Burst is not null && RatePerSecond is null)
        {
            yield return $"{owner}{separator}Burst needs RatePerSecond (a bucket without a refill rate limits nothing).";
        }

        foreach (var (name, value) in new[]
        {
            (nameof(Burst), Burst), (nameof(MaxActiveLeasesPerAgent), MaxActiveLeasesPerAgent), (nameof(MaxActiveLeasesPerTask), MaxActiveLeasesPerTask),
            (nameof(MaxPendingApprovalsPerAgent), MaxPendingApprovalsPerAgent), (nameof(MaxApprovalWaitsPerAgent), MaxApprovalWaitsPerAgent),
        })
        {
            if (value is < 1 or > 1_000_000)
            {
                yield return $"{owner}{separator}{name} must be between 1 and 1000000.";
            }
        }

        if (MaxActiveLeasesPerTask > MaxActiveLeasesPerAgent)
        {
            yield return $"{owner}{separator}MaxActiveLeasesPerTask cannot exceed MaxActiveLeasesPerAgent.";
        }
    }

    private static int? Min(int? a, int? b) => a is null ? b : b is null ? a : Math.Min(a.Value, b.Value);

    private static double? Min(double? a, double? b) => a is null ? b : b is null ? a : Math.Min(a.Value, b.Value);
}
