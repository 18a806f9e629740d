using JitBroker.Core;
using JitBroker.Core.Handlers;
using JitBroker.WebConsole.Operations;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Logging;

namespace JitBroker.WebConsole.Pages.Blocks;

/// <summary>
/// <c>/console/blocks</c>: the kill switch. Blocking needs the agent id (or pattern) typed twice and a reason; it goes
/// through <see cref="KillSwitchHandler"/> — the block is recorded first, then every lease of the matching agents (and
/// their delegates) is scheduled — and lands on the block's live progress. Unblocking needs a reason and revives nothing.
/// Both audited with the person as actor.
/// </summary>
public sealed class BlocksModel(KillSwitchHandler killSwitch, BlockOperations operations, ILogger<BlocksModel> log) : OperatorPage
{
    public IReadOnlyList<AgentBlock> Blocks { get; private set; } = [];

    public IReadOnlyList<BlockOperation> Recent { get; private set; } = [];

    public string? Unblocked { get; private set; }

    /// <summary>What the person typed, kept when the form is refused.</summary>
    public string? Agent { get; private set; }

    public async Task<IActionResult> OnGetAsync(CancellationToken cancellationToken) => await LoadAsync(cancellationToken) ?? Page();

    public async Task<IActionResult> OnPostBlockAsync(string? agent, string? confirm, string? reason, CancellationToken cancellationToken)
    {
        Agent = agent?.Trim();
        var why = ValidReason(reason);
        if (string.IsNullOrEmpty(Agent) || why is null)
        {
            return await LoadAsync(cancellationToken) ?? Refuse(StatusCodes.Status400BadRequest, Reasons.Console.InvalidInput,
                $"Blocking needs the agent id (or pattern) and a reason of 1-{MaxReasonLength} characters.");
        }

        if (!string.Equals(Agent, confirm?.Trim(), StringComparison.Ordinal))
        {
            return await LoadAsync(cancellationToken) ?? Refuse(StatusCodes.Status400BadRequest, Reasons.Admin.ConfirmationRequired,
                "Type the agent id (or pattern) a second time, exactly, to confirm the block.");
        }

        try
        {
            var (_, revocations) = await killSwitch.BlockAsync(Person.ToIdentity(), Agent, why, cancellationToken: cancellationToken);
            OperationsLog.AgentBlocked(log, Agent, Person.Principal, revocations.Scheduled, revocations.BatchId);
            return Redirect(OperationsPaths.Block(revocations.BatchId));
        }
        catch (BrokerException ex)
        {
            return await LoadAsync(cancellationToken) ?? Refuse(ex);
        }
    }

    public async Task<IActionResult> OnPostUnblockAsync(string? pattern, string? reason, CancellationToken cancellationToken)
    {
        var why = ValidReason(reason);
        if (string.IsNullOrEmpty(pattern) || why is null)
        {
            return await LoadAsync(cancellationToken) ?? Refuse(StatusCodes.Status400BadRequest, Reasons.Console.InvalidInput,
                $"Unblocking needs the block and a reason of 1-{MaxReasonLength} characters.");
        }

        try
        {
            var found = await killSwitch.UnblockAsync(Person.ToIdentity(), pattern, why, cancellationToken);
            OperationsLog.AgentUnblocked(log, pattern, Person.Principal, found);
            if (!found)
            {
                return await LoadAsync(cancellationToken) ?? Refuse(StatusCodes.Status404NotFound, Reasons.BlockNotFound, "No block with exactly that pattern is in force.");
            }

            Unblocked = pattern;
        }
        catch (BrokerException ex)
        {
            return await LoadAsync(cancellationToken) ?? Refuse(ex);
        }

        return await LoadAsync(cancellationToken) ?? Page();
    }

    public static string At(DateTimeOffset? at) => When(at);

    private async Task<IActionResult?> LoadAsync(CancellationToken cancellationToken)
    {
        Recent = operations.Recent();
        try
        {
            Blocks = await killSwitch.ListBlocksAsync(cancellationToken);
            return null;
        }
        catch (BrokerException ex)
        {
            return Refuse(ex);
        }
    }
}
