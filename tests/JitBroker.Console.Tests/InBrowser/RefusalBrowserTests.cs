using System.Net;
using JitBroker.Server.Tests;
using NUnit.Framework;

namespace JitBroker.Console.Tests.InBrowser;

/// <summary>
/// Issue 21 item 6, who is refused: a browser without a session goes to the provider (code + PKCE); a signed-in person
/// with no console role gets the 403 page and cannot decide by posting either; a POST carrying a person's session but no
/// anti-forgery token (a forged cross-site form) is refused with 400 — and none of them changes the approval.
/// </summary>
public sealed class RefusalBrowserTests : ConsoleBrowserSuite
{
    private static FormUrlEncodedContent Decision(string decision) =>
        new(new Dictionary<string, string> { ["decision"] = decision, ["reason"] = "forged" });

    /// <summary>
    /// The provider requires PKCE of this client (idp.mjs), so arriving at its login form at all shows the console asked
    /// with a code challenge (the console pushes its request, RFC 9126, when the provider offers that).
    /// </summary>
    [Test]
    public void A_browser_without_a_session_is_sent_to_the_providers_login_form()
    {
        using var browser = Browser.Start();
        browser.Go(Site.Page("/console/approvals"));
        browser.WaitFor("input[name=login]");
        browser.Shot("idp-login");
        Assert.That(browser.Url.GetLeftPart(UriPartial.Authority), Is.EqualTo(Site.Idp.IssuerName));
        Assert.That(browser.Text, Does.Not.Contain("Approvals waiting"), "nothing of the console is shown");
    }

    [Test]
    public async Task A_signed_in_person_without_a_role_gets_the_403_page_and_cannot_post_a_decision()
    {
        var id = await PendingApprovalAsync("console-refusals", "console-ref-1");
        using var browser = Browser.Start();
        ConsolePeople.SignIn(browser, Site, "mallory", "/console/approvals");
        browser.Shot("denied");
        Assert.That(ConsolePeople.PageName(browser), Is.EqualTo("denied"), browser.Text);
        Assert.That(browser.Find("#error").GetAttribute("data-reason"), Is.EqualTo("console.no_role"));
        Assert.That(browser.Text, Does.Not.Contain(id), "nothing of the approvals is shown");

        browser.Go(Site.Page("/console/approvals/" + id));
        browser.Shot("approval-denied");
        Assert.That(ConsolePeople.PageName(browser), Is.EqualTo("denied"));

        using var http = Site.Http(browser.CookiesFor(Site.BaseUrl));
        using var post = await http.PostAsync(new Uri("/console/approvals/" + id, UriKind.Relative), Decision("approve"));
        Assert.That((int)post.StatusCode, Is.EqualTo(302).Or.EqualTo(403), await post.Content.ReadAsStringAsync());
        if (post.StatusCode == HttpStatusCode.Redirect)
        {
            Assert.That(post.Headers.Location!.OriginalString, Does.StartWith("/console/denied").Or.StartWith(Site.Page("/console/denied").ToString()));
        }

        Assert.That(await ApprovalStateAsync(id), Is.EqualTo("pending"));
    }

    [Test]
    public async Task A_post_with_an_approvers_session_but_no_anti_forgery_token_is_refused_with_400()
    {
        var id = await PendingApprovalAsync("console-refusals", "console-ref-2");
        using var browser = Browser.Start();
        ConsolePeople.SignIn(browser, Site, "alice", "/console/approvals/" + id);
        Assert.That(browser.FindAll("#approve"), Has.Count.EqualTo(1), "alice may decide it in the browser");

        using var http = Site.Http(browser.CookiesFor(Site.BaseUrl));
        using var forged = await http.PostAsync(new Uri("/console/approvals/" + id, UriKind.Relative), Decision("approve"));
        var body = await forged.Content.ReadAsStringAsync();
        Assert.That(forged.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), body);
        Assert.That(body, Does.Contain("data-reason=\"console.antiforgery_invalid\""));
        Assert.That(await ApprovalStateAsync(id), Is.EqualTo("pending"), "the forged decision changed nothing");

        // The same session can still decide through the page itself: the refusal was the missing token, not the person.
        browser.Go(Site.Page("/console/approvals/" + id));
        browser.Find("textarea[name=reason]").SendKeys("decided on the page");
        browser.Find("#deny").Click();
        Assert.That(browser.WaitFor("#decision-result").GetAttribute("data-state"), Is.EqualTo("denied"));
        browser.Shot("decided-on-page");
    }
}
