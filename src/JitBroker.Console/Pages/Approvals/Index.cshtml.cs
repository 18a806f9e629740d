using JitBroker.Core.Handlers;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace JitBroker.WebConsole.Pages;

/// <summary><c>/console/approvals</c>: pending approvals, oldest first (approvers and operators may look).</summary>
public sealed class ApprovalsModel(ApprovalDecisionHandler approvals, TimeProvider time) : PageModel
{
    private const int MaxListed = 200;

    public IReadOnlyList<ApprovalView> Pending { get; private set; } = [];

    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        Pending = [.. (await approvals.ListPendingAsync(MaxListed, cancellationToken)).Select(a => ApprovalView.Of(a, now))];
    }
}
