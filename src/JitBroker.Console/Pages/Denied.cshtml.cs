using JitBroker.Core;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace JitBroker.WebConsole.Pages;

/// <summary>
/// Where a signed-in person without the needed role lands (403), and where a failed sign-in is explained. The reason
/// comes from a fixed list, never echoed from the query string.
/// </summary>
public sealed class DeniedModel : PageModel
{
    public string Reason { get; private set; } = Reasons.Console.NoRole;

    public string Message { get; private set; } = "";

    public async Task OnGetAsync(string? reason)
    {
        if (reason == Reasons.Console.SignInFailed)
        {
            Reason = reason;
            Message = "Signing in with your organisation's provider did not complete. Try again from the console's start page.";
            Response.StatusCode = StatusCodes.Status401Unauthorized;
            return;
        }

        // An anonymous page: the session is read here, not by an authorisation policy.
        if ((await HttpContext.AuthenticateAsync(ConsoleAuthentication.CookieScheme)).Principal is { } signedIn)
        {
            HttpContext.User = signedIn;
        }

        var person = ConsolePerson.From(User);
        Message = person is null || person.Roles.Count == 0
            ? "You are signed in, but you are neither an approver nor an operator of this broker. Ask its administrators to add you."
            : "This page needs a role you do not hold.";
        Reason = person is null || person.Roles.Count == 0 ? Reasons.Console.NoRole : Reasons.Console.RoleRequired;
        Response.StatusCode = StatusCodes.Status403Forbidden;
    }
}
