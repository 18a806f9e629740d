using JitBroker.Core;
using JitBroker.WebConsole.Operations;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace JitBroker.WebConsole.Pages.Blocks;

/// <summary>
/// <c>/console/blocks/{operationId}</c>: a block's bulk revocation as it runs — total, revoked, failing — refreshed every
/// second by <c>meta refresh</c> (no script) until done. The counts come from the shared schedule, so any replica answers;
/// who started it and when is shown on the replica that started it.
/// </summary>
public sealed class BlockProgressModel(BlockOperations operations) : OperatorPage
{
    [FromRoute]
    public string OperationId { get; set; } = "";

    public BlockProgress? Progress { get; private set; }

    public string Started => When(Progress?.Operation?.StartedAt);

    public string Finished => When(Progress?.FinishedAt);

    public async Task<IActionResult> OnGetAsync(CancellationToken cancellationToken)
    {
        try
        {
            Progress = await operations.GetAsync(OperationId, cancellationToken);
        }
        catch (BrokerException ex)
        {
            return Refuse(ex);
        }

        return Progress is null
            ? Refuse(StatusCodes.Status404NotFound, Reasons.RevocationBatchNotFound, "No such block operation (or it finished long ago).")
            : Page();
    }
}
