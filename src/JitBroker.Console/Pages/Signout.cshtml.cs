using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace JitBroker.WebConsole.Pages;

/// <summary>
/// <c>/console/signout</c>: GET asks, POST (anti-forgery checked, so no other site can sign a person out) ends the console
/// session. The provider's own session is left alone: the next approval asks for a fresh sign-in anyway.
/// </summary>
public sealed class SignoutModel : PageModel
{
    public bool SignedOut { get; private set; }


    public async Task OnPostAsync()
    {
        await HttpContext.SignOutAsync(ConsoleAuthentication.CookieScheme);
        HttpContext.User = new System.Security.Claims.ClaimsPrincipal();
        SignedOut = true;
    }
}
