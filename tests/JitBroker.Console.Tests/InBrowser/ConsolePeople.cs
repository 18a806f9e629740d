using JitBroker.Server.Tests;
using NUnit.Framework;

namespace JitBroker.Console.Tests.InBrowser;

/// <summary>What the browser tests share: the policy the console is tested with, and signing a person in at the provider.</summary>
internal static class ConsolePeople
{
    /// <summary>
    /// Refunds need the approval of a person from the tests' provider (<c>{issuer}#*</c>: alice, owen — roles from their
    /// groups); the rule's accountable owner is owen, who therefore may not approve it. Tickets are allowed outright,
    /// for the operator's leases.
    /// </summary>
    public static string Policy(IdentityProvider idp) => $$"""
        version: 1
        rules:
          - id: refunds-need-approval
            effect: allow
            owner: owen@corp.example
            principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/agents/*"] }
            actions: ["payments.refund"]
            tools: ["stripe"]
            resources: ["orders/*"]
            approval:
              approvers: ["{{idp.IssuerName}}#*"]
              timeout: 10m
            credential: { kind: jwt, audiences: ["{{E2E.PaymentsAudience}}"], max_ttl: 5m }
          - id: agents-tickets
            effect: allow
            owner: tickets-team@corp.example
            principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/agents/*"] }
            actions: ["tickets.read"]
            tools: ["zendesk"]
            resources: ["tickets/*"]
            credential: { kind: jwt, audiences: ["{{BrokerServerFixture.TicketsAudience}}"], max_ttl: 10m }
        """;

    /// <summary>
    /// Opens <paramref name="path"/> in a browser that has no console session: the console sends it to the provider, the
    /// person types their login name (any password) into the provider's stock form, and the provider sends the browser
    /// back to the console, which shows <paramref name="path"/> (or the page the person is sent to instead).
    /// </summary>
    public static void SignIn(Browser browser, ConsoleSite site, string login, string path)
    {
        browser.Go(site.Page(path));
        browser.WaitFor("input[name=login]");
        Assert.That(browser.Url.GetLeftPart(UriPartial.Authority), Is.EqualTo(site.Idp.IssuerName), "the console sent the browser to the provider");
        browser.Find("input[name=login]").SendKeys(login);
        browser.Find("input[name=password]").SendKeys("any password");
        browser.Shot($"{login}-idp-login");
        browser.Find("button[type=submit]").Click();
        browser.Until(d => d.Url.StartsWith(site.BaseUrl.ToString(), StringComparison.Ordinal) && d.FindElements(OpenQA.Selenium.By.CssSelector("main#page")).Count > 0
            ? d.Url : null, what: $"{login} back on the console");
    }

    /// <summary>The <c>data-page</c> of the console page shown (<c>&lt;main id="page" data-page=...&gt;</c>).</summary>
    public static string PageName(Browser browser) => browser.Find("main#page").GetAttribute("data-page") ?? "";
}
