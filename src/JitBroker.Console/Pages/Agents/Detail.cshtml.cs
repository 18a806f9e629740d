using JitBroker.Audit;
using JitBroker.Core;
using JitBroker.Core.Handlers;
using JitBroker.WebConsole.Operations;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace JitBroker.WebConsole.Pages.Agents;

/// <summary>
/// <c>/console/agents/{agentId}</c>: one agent at a glance — the owners accountable for what it holds (policy <c>owner</c>,
/// from its leases and its latest decisions), whether a block covers it, its active leases, and its latest audit records
/// (decisions, issuance, uses, revocations) from the tail of the audit chain.
/// </summary>
public sealed class AgentModel(ListLeasesHandler leases, IKillSwitch killSwitch, IAuditHistory audit, TimeProvider time) : OperatorPage
{
    public const int MaxLeases = 200;
    public const int MaxRecords = 50;

    /// <summary>How far back in the chain recent records are looked for (lines).</summary>
    public const int ScanLines = 20_000;

    [FromRoute(Name = "agentId")]
    public string? RouteId { get; set; }

    public string AgentId { get; private set; } = "";

    public IReadOnlyList<string> Owners { get; private set; } = [];

    public AgentBlock? Block { get; private set; }

    public IReadOnlyList<Lease> ActiveLeases { get; private set; } = [];

    public bool MoreLeases { get; private set; }

    public IReadOnlyList<AuditRow> Recent { get; private set; } = [];

    public async Task<IActionResult> OnGetAsync(CancellationToken cancellationToken)
    {
        AgentId = OperationsPaths.IdFromRoute(RouteId);
        if (AgentId.Length == 0)
        {
            return Refuse(StatusCodes.Status400BadRequest, Reasons.Console.InvalidInput, "Which agent? The page is /console/agents/{agent id}.");
        }

        try
        {
            var page = await leases.ListAsync(new LeaseQuery { AgentId = AgentId, State = LeaseState.Active, PageSize = MaxLeases }, cancellationToken);
            (ActiveLeases, MoreLeases) = (page.Leases, page.NextPageToken is not null);
            Block = await killSwitch.FindBlockAsync(AgentId, time.GetUtcNow(), cancellationToken);
            var records = await audit.RecentForAgentAsync(AgentId, MaxRecords, ScanLines, cancellationToken);
            Recent = [.. records.Select(AuditRow.Of).Reverse()];
            Owners = [.. ActiveLeases.Select(l => l.Owner).Concat(records.Select(r => r.GetString(AuditFields.Owner)))
                .OfType<string>().Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
        }
        catch (BrokerException ex)
        {
            return Refuse(ex);
        }

        return Page();
    }

    public static string At(DateTimeOffset at) => When(at);
}
