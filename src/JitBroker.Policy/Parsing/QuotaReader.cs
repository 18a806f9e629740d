using JitBroker.Core;
using YamlDotNet.RepresentationModel;

namespace JitBroker.Policy.Parsing;

/// <summary>Reads an allow rule's <c>quota</c> block: per-agent limits that tighten the broker's (docs/policy.md "Quotas").</summary>
internal static class QuotaReader
{
    private const int MaxCount = 1_000_000;

    private static readonly string[] Keys =
    [
        "rate_per_second", "burst", "max_active_leases_per_agent", "max_active_leases_per_task",
        "max_pending_approvals_per_agent", "max_approval_waits_per_agent",
    ];

    public static QuotaLimits Read(PolicyErrors errors, YamlNode node, string owner)
    {
        var field = $"{owner}: quota";
        var quota = YamlMapping.Of(errors, node, field);
        quota.RejectUnknownKeys($"{owner} quota", Keys);
        if (Keys.All(k => quota.KeyNode(k) is null))
        {
            throw errors.At(node, $"{field} must set at least one of {string.Join(", ", Keys)}");
        }

        double? rate = null;
        if (quota.TryGet("rate_per_second", out var rateNode))
        {
            var number = YamlNodes.ReadNumber(errors, rateNode, $"{field}.rate_per_second");
            rate = number is > 0 and <= MaxCount
                ? (double)number
                : throw errors.At(rateNode, $"{field}.rate_per_second must be above 0 and at most {MaxCount}");
        }

        int? Count(string key) => quota.TryGet(key, out var countNode) ? YamlNodes.ReadInt(errors, countNode, $"{field}.{key}", 1, MaxCount) : null;

        var limits = new QuotaLimits
        {
            RatePerSecond = rate,
            Burst = Count("burst"),
            MaxActiveLeasesPerAgent = Count("max_active_leases_per_agent"),
            MaxActiveLeasesPerTask = Count("max_active_leases_per_task"),
            MaxPendingApprovalsPerAgent = Count("max_pending_approvals_per_agent"),
            MaxApprovalWaitsPerAgent = Count("max_approval_waits_per_agent"),
        };
        if (limits.Burst is not null && rate is null)
        {
            throw errors.At(quota.KeyNode("burst")!, $"{field}.burst needs rate_per_second (a bucket without a refill rate limits nothing)");
        }

        if (limits.MaxActiveLeasesPerTask > limits.MaxActiveLeasesPerAgent)
        {
            throw errors.At(quota.KeyNode("max_active_leases_per_task")!, $"{field}.max_active_leases_per_task cannot exceed max_active_leases_per_agent");
        }

        // One second's worth of requests when no burst is named, as for the broker-wide rate.
        return rate is { } r && limits.Burst is null ? limits with { Burst = Math.Max(1, (int)Math.Ceiling(r)) } : limits;
    }
}
