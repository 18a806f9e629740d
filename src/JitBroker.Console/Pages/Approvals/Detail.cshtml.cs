using JitBroker.Core;
using JitBroker.Core.Handlers;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Logging;

namespace JitBroker.WebConsole.Pages;

/// <summary>
/// <c>/console/approvals/{approvalId}</c>: one approval, and the approve/deny form for approvers. The decision goes through
/// <see cref="ApprovalDecisionHandler"/> with the person as actor, so the rule's approver globs, self-approval, single use
/// and the audit record are exactly the admin API's.
/// </summary>
public sealed class ApprovalModel(ApprovalDecisionHandler approvals, ConsoleSettings settings, TimeProvider time, ILogger<ApprovalModel> log) : PageModel
{
    public const int MaxReasonLength = 500;

    [FromRoute]
    public string ApprovalId { get; set; } = "";

    public ApprovalView? Approval { get; private set; }

    public string CanonicalJson { get; private set; } = "";

    public ApprovalRecord? Decided { get; private set; }

    public (string Reason, string Message)? Error { get; private set; }

    public bool CanDecide => Approval?.Record.State == ApprovalState.Pending && Approval.TimeLeft > TimeSpan.Zero &&
        ConsolePerson.From(User)?.IsApprover == true;

    /// <summary>The approval is still open but the signed-in person has no approver role: say why there is no form.</summary>
    public bool ApproverRoleMissing => Approval?.Record.State == ApprovalState.Pending && Approval.TimeLeft > TimeSpan.Zero &&
        ConsolePerson.From(User)?.IsApprover != true;

    /// <summary>The signed-in person's own decision shows their display name (e-mail); anyone else's principal its subject.</summary>
    public string DeciderName(string? principal) =>
        principal is null ? "—"
        : ConsolePerson.From(User) is { } me && me.Principal == principal ? me.Display
        : ConsolePrincipal.Short(principal);

    public string ApproveMaxAgeText => settings.ApproveMaxAge.TotalMinutes >= 1
        ? $"{settings.ApproveMaxAge.TotalMinutes:0} minutes"
        : $"{settings.ApproveMaxAge.TotalSeconds:0} seconds";

    public async Task<IActionResult> OnGetAsync(CancellationToken cancellationToken)
    {
        await LoadAsync(cancellationToken);
        return Approval is null ? Refuse(StatusCodes.Status404NotFound, Reasons.Approval.NotFound, "No such approval.") : Page();
    }

    public async Task<IActionResult> OnPostAsync(string? decision, string? reason, CancellationToken cancellationToken)
    {
        var person = ConsolePerson.From(User)!;
        if (!person.IsApprover)
        {
            await LoadAsync(cancellationToken);
            return Refuse(StatusCodes.Status403Forbidden, Reasons.Console.RoleRequired, "Only approvers may decide approvals.");
        }

        reason = reason?.Trim();
        if (decision is not ("approve" or "deny") || string.IsNullOrEmpty(reason) || reason.Length > MaxReasonLength)
        {
            await LoadAsync(cancellationToken);
            return Refuse(StatusCodes.Status400BadRequest, Reasons.Console.InvalidInput,
                $"Choose approve or deny and give a reason of 1-{MaxReasonLength} characters.");
        }

        var approve = decision == "approve";
        if (approve && !SignedInRecently(person))
        {
            // Step-up: back to the provider with max_age and prompt=login, then back to this page to approve again.
            return Challenge(new OpenIdConnectChallengeProperties
            {
                RedirectUri = ConsolePaths.Approval(ApprovalId),
                MaxAge = settings.ApproveMaxAge,
                Prompt = "login",
            }, ConsoleAuthentication.OidcScheme);
        }

        try
        {
            Decided = await approvals.DecideAsync(person.ToIdentity(), ApprovalId, approve, reason, cancellationToken);
            ConsoleLog.ApprovalDecided(log, ApprovalId, decision, person.Principal);
        }
        catch (BrokerException ex)
        {
            ConsoleLog.DecisionRefused(log, ApprovalId, person.Principal, ex.Reason);
            await LoadAsync(cancellationToken);
            return Refuse(StatusOf(ex.Failure), ex.Reason, ex.Message);
        }

        await LoadAsync(cancellationToken);
        return Page();
    }

    /// <summary>The provider's <c>auth_time</c> is within <see cref="ConsoleSettings.ApproveMaxAge"/>; no <c>auth_time</c> counts as stale.</summary>
    private bool SignedInRecently(ConsolePerson person) =>
        person.AuthTime is { } at && time.GetUtcNow() - at <= settings.ApproveMaxAge;

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        if (await approvals.GetAsync(ApprovalId, cancellationToken) is { } record)
        {
            Approval = ApprovalView.Of(record, time.GetUtcNow());
            CanonicalJson = CanonicalRequestJson.Of(record);
        }
    }

    private PageResult Refuse(int status, string reason, string message)
    {
        Error = (reason, message);
        Response.StatusCode = status;
        return Page();
    }

    private static int StatusOf(BrokerFailure failure) => failure switch
    {
        BrokerFailure.NotFound => StatusCodes.Status404NotFound,
        BrokerFailure.PermissionDenied => StatusCodes.Status403Forbidden,
        BrokerFailure.FailedPrecondition => StatusCodes.Status409Conflict,
        BrokerFailure.InvalidArgument => StatusCodes.Status400BadRequest,
        _ => StatusCodes.Status503ServiceUnavailable,
    };
}
