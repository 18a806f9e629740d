using JitBroker.Core;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace JitBroker.WebConsole.Operations;

/// <summary>
/// The operations pages (leases, blocks, agent, task): operators only — approvers see the overview and approvals, never
/// the ledger or the kill switch. Errors render the console's contract, <c>#error[data-reason]</c>, with a status.
/// </summary>
[Authorize(Policy = ConsoleAuthentication.OperatorPolicy)]
public abstract class OperatorPage : PageModel
{
    /// <summary>Longest reason kept with a revocation, a block or an unblock (the kill switch's own bound).</summary>
    public const int MaxReasonLength = JitBroker.Core.Handlers.KillSwitchHandler.MaxReasonLength;

    public (string Reason, string Message)? Error { get; private set; }

    /// <summary>The signed-in operator as the actor the domain audits (authorisation guarantees one).</summary>
    protected ConsolePerson Person => ConsolePerson.From(User)!;

    protected PageResult Refuse(int status, string reason, string message)
    {
        Error = (reason, message);
        Response.StatusCode = status;
        return Page();
    }

    protected PageResult Refuse(BrokerException ex) => Refuse(ex.Failure switch
    {
        BrokerFailure.NotFound => StatusCodes.Status404NotFound,
        BrokerFailure.PermissionDenied => StatusCodes.Status403Forbidden,
        BrokerFailure.FailedPrecondition => StatusCodes.Status409Conflict,
        BrokerFailure.InvalidArgument => StatusCodes.Status400BadRequest,
        _ => StatusCodes.Status503ServiceUnavailable,
    }, ex.Reason, ex.Message);

    /// <summary>A required, trimmed reason of at most <see cref="MaxReasonLength"/> characters, or null.</summary>
    protected static string? ValidReason(string? reason) =>
        reason?.Trim() is { Length: > 0 and <= MaxReasonLength } trimmed ? trimmed : null;

    protected static string When(DateTimeOffset? at) => ConsoleTime.Format(at);
}
