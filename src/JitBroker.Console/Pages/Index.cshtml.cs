using JitBroker.Core;
using JitBroker.Core.Handlers;
using JitBroker.Core.Series;
using JitBroker.WebConsole.Charts;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace JitBroker.WebConsole.Pages;

/// <summary>
/// <c>/console/</c>, the overview: headline numbers and charts of the last hour. Every console member may see it — the
/// numbers are aggregates (no agent, lease or person named), and approvers want the approval queue in context.
/// Lease and approval counts are the deployment's (shared store); rates, refusals and lag are this replica's meter.
/// </summary>
/// Approval notifications (webhooks) are shown with their failures, as this replica sees them (docs/notifications.md).
public sealed class OverviewModel(BrokerSeries series, ILeaseQueries leases, ApprovalDecisionHandler approvals, KillSwitchHandler killSwitch,
    INotificationStatus notifications) : PageModel
{
    /// <summary>Approval webhooks and how their deliveries fare on this replica.</summary>
    public INotificationStatus Notifications => notifications;

    public static string When(DateTimeOffset? at) =>
        at is { } t ? t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", System.Globalization.CultureInfo.InvariantCulture) : "never";

    public IReadOnlyList<(string Id, string Label, long Value)> Headline { get; private set; } = [];

    public IReadOnlyList<(string Id, string Svg)> Charts { get; private set; } = [];

    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        var s = series.Snapshot();
        var counts = await leases.CountByStateAsync(cancellationToken);
        var pending = await approvals.ListPendingAsync(1000, cancellationToken);
        var blocks = await killSwitch.ListBlocksAsync(cancellationToken);
        var perSample = BrokerSeries.Interval.TotalMinutes;
        Headline =
        [
            ("headline-active", "active leases", counts.GetValueOrDefault(LeaseState.Active)),
            ("headline-retrying", "revocations being retried", counts.GetValueOrDefault(LeaseState.RevokeFailed)),
            ("headline-approvals", "approvals waiting", pending.Count),
            ("headline-blocks", "blocks in force", blocks.Count),
            ("headline-issued", "issued in the last hour", (long)Math.Round(s.IssuedPerMinute.Sum(p => p.Value ?? 0) * perSample)),
            ("headline-refused", "refused in the last hour", s.RefusalsByReason.Values.Sum()),
        ];
        Charts =
        [
            Chart("chart-issuance", id => SvgChart.Line(id, "Credentials issued", "per minute", s.IssuedPerMinute, "/min")),
            Chart("chart-denials", id => SvgChart.Bars(id, "Requests refused by reason (last hour)", "requests",
                [.. s.RefusalsByReason.Select(r => new ChartBar(r.Key, r.Value))])),
            Chart("chart-approvals", id => SvgChart.Line(id, "Approvals waiting", "approvals", s.ApprovalsWaiting, "")),
            Chart("chart-revocation-lag", id => SvgChart.Line(id, "Revocation lag (worst per 10 s)", "seconds after expiry", s.RevocationLagMaxSeconds, " s")),
            Chart("chart-retrying", id => SvgChart.Line(id, "Revocations being retried", "leases", s.RevocationsRetrying, "")),
        ];
    }

    private static (string, string) Chart(string id, Func<string, string> render) => (id, render(id));
}
