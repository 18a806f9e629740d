using JitBroker.Core;
using JitBroker.Core.Handlers;
using JitBroker.WebConsole.Operations;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Logging;

namespace JitBroker.WebConsole.Pages.Leases;

/// <summary>
/// <c>/console/leases</c>: the ledger filtered by agent, task and state (GET form, so a filtered view is a link), and a
/// revoke button per lease. Revoking goes through <see cref="RevokeLeasesHandler"/> — scheduled for the sweepers of every
/// replica and audited with the person as actor, exactly as <c>jitctl revoke --lease</c>. Lease ids and fingerprints only.
/// </summary>
public sealed class LeasesModel(ListLeasesHandler list, ILeaseLedger ledger, RevokeLeasesHandler revoke, ILogger<LeasesModel> log) : OperatorPage
{
    public const int PageSize = 100;

    /// <summary>The states an operator filters by, in the wire spelling (<c>revoke_failed</c>).</summary>
    public static readonly IReadOnlyList<(string Value, LeaseState State)> States =
        [("active", LeaseState.Active), ("revoking", LeaseState.Revoking), ("revoke_failed", LeaseState.RevokeFailed), ("revoked", LeaseState.Revoked)];

    [BindProperty(SupportsGet = true)]
    public string? Agent { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? Task { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? State { get; set; }

    [BindProperty(SupportsGet = true, Name = "page")]
    public string? PageToken { get; set; }

    public IReadOnlyList<Lease> Leases { get; private set; } = [];

    public string? NextPage { get; private set; }

    public (string LeaseId, RevokeSummary Summary)? Revoked { get; private set; }

    public static string StateName(LeaseState state) => States.First(s => s.State == state).Value;

    public async Task<IActionResult> OnGetAsync(CancellationToken cancellationToken) =>
        await ListAsync(cancellationToken) ?? Page();

    public async Task<IActionResult> OnPostRevokeAsync(string? leaseId, string? reason, CancellationToken cancellationToken)
    {
        var why = ValidReason(reason);
        if (string.IsNullOrWhiteSpace(leaseId) || why is null)
        {
            return await ListAsync(cancellationToken) ?? Refuse(StatusCodes.Status400BadRequest, Reasons.Console.InvalidInput,
                $"Revoking needs the lease and a reason of 1-{MaxReasonLength} characters.");
        }

        try
        {
            if (await ledger.GetAsync(leaseId, cancellationToken) is null)
            {
                return await ListAsync(cancellationToken) ?? Refuse(StatusCodes.Status404NotFound, Reasons.LeaseNotFound, "No such lease.");
            }

            var summary = await revoke.RevokeAsync(Person.ToIdentity(), new RevokeSelector.Lease(leaseId), confirmed: false, why, cancellationToken);
            OperationsLog.LeaseRevoked(log, leaseId, summary.BatchId, Person.Principal);
            Revoked = (leaseId, summary);
        }
        catch (BrokerException ex)
        {
            return await ListAsync(cancellationToken) ?? Refuse(ex);
        }

        return await ListAsync(cancellationToken) ?? Page();
    }

    /// <summary>Loads the filtered page; a refusal (bad state, store down) when it cannot.</summary>
    private async Task<IActionResult?> ListAsync(CancellationToken cancellationToken)
    {
        LeaseState? state = null;
        if (!string.IsNullOrEmpty(State))
        {
            if (States.FirstOrDefault(s => s.Value == State) is not { Value: not null } known)
            {
                return Refuse(StatusCodes.Status400BadRequest, Reasons.Console.InvalidInput,
                    "state must be one of " + string.Join(", ", States.Select(s => s.Value)) + ".");
            }

            state = known.State;
        }

        try
        {
            var page = await list.ListAsync(new LeaseQuery
            {
                AgentId = Blank(Agent), TaskId = Blank(Task), State = state, PageSize = PageSize, PageToken = Blank(PageToken),
            }, cancellationToken);
            (Leases, NextPage) = (page.Leases, page.NextPageToken);
            return null;
        }
        catch (BrokerException ex)
        {
            return Refuse(ex);
        }
        catch (ArgumentException)
        {
            // A page token the store did not issue.
            return Refuse(StatusCodes.Status400BadRequest, Reasons.Console.InvalidInput, "That page link is not valid any more; start from the first page.");
        }
    }

    /// <summary>This view's query string with another page token (for the "next page" link and the forms).</summary>
    public string Query(string? page = null)
    {
        var parts = new[] { ("agent", Agent), ("task", Task), ("state", State), ("page", page) }
            .Where(p => !string.IsNullOrEmpty(p.Item2))
            .Select(p => p.Item1 + "=" + Uri.EscapeDataString(p.Item2!));
        return string.Join("&", parts) is { Length: > 0 } q ? "?" + q : "";
    }

    /// <summary>The revoke form's target: this view (so the list stays filtered) and the Revoke handler.</summary>
    public string RevokeAction => OperationsPaths.Leases + (Query() is { Length: > 0 } q ? q + "&" : "?") + "handler=Revoke";

    public static string Expires(DateTimeOffset at) => When(at);

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
