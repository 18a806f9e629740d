using System.Diagnostics;
using System.Net;
using System.Web;
using JitBroker.Core;
using NUnit.Framework;

namespace JitBroker.Console.Tests;

/// <summary>The console over real Kestrel and a real OIDC round trip (no browser: the browser tests are apart).</summary>
public sealed class ConsoleHttpTests
{
    private ConsoleBroker _broker = null!;

    [SetUp]
    public async Task SetUp() => _broker = await ConsoleBroker.StartAsync();

    [TearDown]
    public async Task TearDown() => await _broker.DisposeAsync();

    private async Task<string> OpenApprovalAsync(string owner = "bob@corp.example")
    {
        var request = new CredentialRequest("task-7", new TaskIntent("tickets.refund", "refund order 42", ["refund"], ["order:42"],
            new Dictionary<string, string>()), "jwt", "https://tickets.internal.example", TimeSpan.FromMinutes(5));
        var decision = new PolicyDecision(DecisionEffect.NeedsApproval, null, ["refunds-need-approval"], "needs approval")
        {
            Approval = new ApprovalRequirement([_broker.Provider.Issuer + "#*"], TimeSpan.FromMinutes(15)),
            Owner = owner,
        };
        var opened = await Approvals.CreateAsync(Agent, request, "hash-7", decision);
        return opened.Record!.ApprovalId;
    }

    private ApprovalService Approvals => (ApprovalService)_broker.Services.GetService(typeof(ApprovalService))!;

    private static readonly WorkloadIdentity Agent = new()
    {
        Id = "spiffe://dev.jitbroker.local/agents/support-bot", TrustDomain = "dev.jitbroker.local", Method = "jwt-svid", EvidenceFingerprint = "f",
    };

    private static void AssertSecurityHeaders(HttpResponseMessage response, string what)
    {
        var csp = string.Join(",", response.Headers.GetValues("Content-Security-Policy"));
        Assert.Multiple(() =>
        {
            Assert.That(csp, Does.StartWith("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self' http://127.0.0.1:"), what);
            Assert.That(csp, Does.EndWith("frame-ancestors 'none'; base-uri 'none'"), what);
            Assert.That(csp, Does.Not.Contain("script-src"), what);
            Assert.That(response.Headers.GetValues("X-Frame-Options"), Is.EqualTo(new[] { "DENY" }), what);
            Assert.That(response.Headers.GetValues("X-Content-Type-Options"), Is.EqualTo(new[] { "nosniff" }), what);
            Assert.That(response.Headers.GetValues("Referrer-Policy"), Is.EqualTo(new[] { "no-referrer" }), what);
        });
    }

    [Test]
    public async Task An_unauthenticated_visit_is_sent_to_the_providers_authorize_endpoint_with_a_S256_code_challenge()
    {
        using var client = _broker.NewClient();
        var response = await client.GetAsync("/console/approvals");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Found));
        var location = response.Headers.Location!;
        Assert.That(location.GetLeftPart(UriPartial.Path), Is.EqualTo(_broker.Provider.Issuer + "/authorize"));
        var query = HttpUtility.ParseQueryString(location.Query);
        Assert.That(query["response_type"], Is.EqualTo("code"));
        Assert.That(query["code_challenge_method"], Is.EqualTo("S256"));
        Assert.That(query["code_challenge"], Has.Length.EqualTo(43), "base64url SHA-256");
        Assert.That(query["redirect_uri"], Is.EqualTo(_broker.ConsoleUri.GetLeftPart(UriPartial.Authority) + "/console/signin-oidc"));
        AssertSecurityHeaders(response, "the redirect to the provider");
    }

    [Test]
    public async Task Every_console_page_carries_the_security_headers()
    {
        var id = await OpenApprovalAsync();
        using var client = _broker.NewClient();
        Assert.That((await client.SignInAndGetAsync("/console/approvals")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        foreach (var path in new[] { "/console/", "/console/approvals", $"/console/approvals/{id}", "/console/approvals/apr_unknown", "/console/denied", "/console/signout", "/console/no-such-page" })
        {
            var response = await client.GetAsync(path);
            Assert.That((int)response.StatusCode, Is.LessThan(500), path);
            AssertSecurityHeaders(response, path);
            Assert.That(response.Headers.CacheControl?.NoStore, Is.True, path);
        }
    }

    [Test]
    public async Task The_session_cookie_is_httponly_and_lax_and_the_antiforgery_cookie_strict()
    {
        using var client = _broker.NewClient();
        var first = await client.GetAsync("/console/approvals");
        var signedIn = await client.FollowAsync(first);
        Assert.That(signedIn.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var cookies = client.Cookies.GetAllCookies();
        var session = cookies.Single(c => c.Name == "jitbroker-console");
        Assert.That(session.HttpOnly, Is.True);
        Assert.That(session.Path, Is.EqualTo("/console"));
        Assert.That(session.Expires, Is.EqualTo(DateTime.MinValue), "a browser-session cookie; the ticket inside expires after SessionLifetime");

        var page = await client.GetAsync("/console/signout");
        var setCookie = string.Join("\n", page.Headers.TryGetValues("Set-Cookie", out var v) ? v : []);
        Assert.That(setCookie, Does.Contain("jitbroker-console-af=").And.Contain("samesite=strict").And.Contain("httponly"));
    }

    [Test]
    public async Task A_post_without_the_antiforgery_token_is_refused_with_400_and_a_reason()
    {
        var id = await OpenApprovalAsync();
        using var client = _broker.NewClient();
        await client.SignInAndGetAsync($"/console/approvals/{id}");

        var response = await client.PostAsync($"/console/approvals/{id}", new Dictionary<string, string> { ["decision"] = "approve", ["reason"] = "forged" });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain($"data-reason=\"{Reasons.Console.AntiforgeryInvalid}\""));
        AssertSecurityHeaders(response, "the anti-forgery refusal");
        Assert.That((await Approvals.GetAsync(id))!.State, Is.EqualTo(ApprovalState.Pending));
    }

    [Test]
    public async Task A_signed_in_person_with_no_role_is_refused_with_403()
    {
        _broker.Provider.NextPerson = new TestPerson("mallory", "mallory@corp.example", ["interns"]);
        using var client = _broker.NewClient();

        var response = await client.SignInAndGetAsync("/console/approvals");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        var html = await response.Content.ReadAsStringAsync();
        Assert.That(html, Does.Contain($"data-reason=\"{Reasons.Console.NoRole}\""));
        Assert.That(html, Does.Not.Contain("data-approval-id"));
        Assert.That(html, Does.Contain("<span id=\"roles\">no role</span>"));
        Assert.That(html, Does.Not.Contain("id=\"nav\""), "no links to pages that would only refuse this person");
    }

    [Test]
    public async Task An_approver_approves_and_the_waiting_agent_collects_within_a_second()
    {
        var id = await OpenApprovalAsync();
        using var client = _broker.NewClient();
        var page = await client.SignInAndGetAsync($"/console/approvals/{id}");
        var html = await page.Content.ReadAsStringAsync();
        Assert.That(html, Does.Contain("id=\"approval-owner\">bob@corp.example<"));
        Assert.That(html, Does.Contain("id=\"approval-action\" class=\"mono\">tickets.refund<"));
        Assert.That(html, Does.Contain("id=\"approval-rules\" class=\"mono\">refunds-need-approval<"));
        Assert.That(html, Does.Contain("id=\"approval-canonical\""));
        Assert.That(html, Does.Contain("id=\"whoami\"").And.Contain("alice@corp.example"));

        using var waiting = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var collect = Approvals.CollectAsync(id, Agent, "hash-7", TimeSpan.FromSeconds(15), waiting.Token);
        var response = await client.PostAsync($"/console/approvals/{id}", new Dictionary<string, string>
        {
            ["decision"] = "approve", ["reason"] = "refund confirmed with the customer", ["__RequestVerificationToken"] = ConsoleClient.AntiforgeryToken(html),
        });
        var clicked = Stopwatch.StartNew();
        var collected = await collect;

        Assert.That(clicked.Elapsed, Is.LessThan(TimeSpan.FromSeconds(1)), "the agent's await_approval returns within a second of the click");
        Assert.That(collected.State, Is.EqualTo(ApprovalState.Consumed));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var decided = await response.Content.ReadAsStringAsync();
        Assert.That(decided, Does.Contain("id=\"decision-result\"").And.Contain("data-state=\"approved\""));
        Assert.That(decided, Does.Contain($"by <span title=\"{_broker.Provider.Issuer}#alice\">alice@corp.example</span>"),
            "the person's own decision names them by e-mail, the principal kept in the tooltip");
        Assert.That(decided, Does.Contain("id=\"approval-decided\"").And.Not.Contain("id=\"approval-time-left\""), "decided: no countdown");
        Assert.That(collected.DecidedBy, Is.EqualTo(_broker.Provider.Issuer + "#alice"));
    }

    [Test]
    public async Task Approving_after_an_old_sign_in_goes_back_to_the_provider_with_max_age_and_prompt_login()
    {
        var id = await OpenApprovalAsync();
        _broker.Provider.NextPerson = new TestPerson("alice", "alice@corp.example", ["approvers"], SignedInAgo: TimeSpan.FromMinutes(20));
        using var client = _broker.NewClient();
        var html = await (await client.SignInAndGetAsync($"/console/approvals/{id}")).Content.ReadAsStringAsync();

        var response = await client.PostAsync($"/console/approvals/{id}", new Dictionary<string, string>
        {
            ["decision"] = "approve", ["reason"] = "ok", ["__RequestVerificationToken"] = ConsoleClient.AntiforgeryToken(html),
        });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Found));
        var query = HttpUtility.ParseQueryString(response.Headers.Location!.Query);
        Assert.That(query["max_age"], Is.EqualTo("300"));
        Assert.That(query["prompt"], Is.EqualTo("login"));
        Assert.That((await Approvals.GetAsync(id))!.State, Is.EqualTo(ApprovalState.Pending), "nothing decided on a stale sign-in");

        // The person signs in again; the console brings them back to the approval, where approving now works.
        _broker.Provider.NextPerson = new TestPerson("alice", "alice@corp.example", ["approvers"]);
        var back = await client.FollowAsync(response);
        Assert.That(back.RequestMessage!.RequestUri!.AbsolutePath, Is.EqualTo($"/console/approvals/{id}"));
        var again = await client.PostAsync($"/console/approvals/{id}", new Dictionary<string, string>
        {
            // The form loaded before the step-up still posts: anti-forgery binds to the person, not to the sign-in time.
            ["decision"] = "approve", ["reason"] = "ok", ["__RequestVerificationToken"] = ConsoleClient.AntiforgeryToken(html),
        });
        Assert.That(again.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await Approvals.GetAsync(id))!.State, Is.EqualTo(ApprovalState.Approved));
    }

    [Test]
    public async Task An_operator_sees_approvals_but_cannot_decide_them()
    {
        var id = await OpenApprovalAsync();
        _broker.Provider.NextPerson = new TestPerson("oscar", "oscar@corp.example", ["operators"]);
        using var client = _broker.NewClient();
        var page = await client.SignInAndGetAsync($"/console/approvals/{id}");
        var html = await page.Content.ReadAsStringAsync();
        Assert.That(page.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(html, Does.Not.Contain("id=\"decide\""));
        Assert.That(html, Does.Contain("id=\"decide-not-allowed\"").And.Contain("Only approvers can decide this approval"));

        var token = ConsoleClient.AntiforgeryToken(await (await client.GetAsync("/console/signout")).Content.ReadAsStringAsync());
        var response = await client.PostAsync($"/console/approvals/{id}", new Dictionary<string, string>
        {
            ["decision"] = "approve", ["reason"] = "ok", ["__RequestVerificationToken"] = token,
        });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain($"data-reason=\"{Reasons.Console.RoleRequired}\""));
        Assert.That((await Approvals.GetAsync(id))!.State, Is.EqualTo(ApprovalState.Pending));
    }

    [Test]
    public async Task The_rules_owner_is_refused_on_the_console_as_self_approval()
    {
        var id = await OpenApprovalAsync(owner: "alice@corp.example");
        using var client = _broker.NewClient();
        var html = await (await client.SignInAndGetAsync($"/console/approvals/{id}")).Content.ReadAsStringAsync();

        var response = await client.PostAsync($"/console/approvals/{id}", new Dictionary<string, string>
        {
            ["decision"] = "approve", ["reason"] = "mine", ["__RequestVerificationToken"] = ConsoleClient.AntiforgeryToken(html),
        });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain($"data-reason=\"{Reasons.Approval.SelfApproval}\""));
    }

    [Test]
    public async Task An_unreachable_provider_is_answered_503_with_a_reason_not_an_exception()
    {
        await _broker.Provider.DisposeAsync();
        using var client = _broker.NewClient();

        var response = await client.GetAsync("/console/approvals");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain($"data-reason=\"{Reasons.Console.Unavailable}\"").And.Not.Contain(" at "));
        AssertSecurityHeaders(response, "the 503 page");
    }

    [Test]
    public async Task Console_routes_answer_404_on_the_agent_http_and_admin_listeners()
    {
        using var http1 = new HttpClient();
        using var h2c = new HttpClient { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        var endpoints = _broker.Endpoints;
        foreach (var path in new[] { "/console/approvals", "/console/", "/console/signin-oidc?code=x&state=y", "/console/console.css" })
        {
            Assert.That((await http1.GetAsync(new Uri(endpoints.HttpUri, path))).StatusCode, Is.EqualTo(HttpStatusCode.NotFound), "HTTP listener " + path);
            Assert.That((await h2c.GetAsync(new Uri(endpoints.GrpcUri, path))).StatusCode, Is.EqualTo(HttpStatusCode.NotFound), "agent listener " + path);
            Assert.That((await h2c.GetAsync(new Uri(endpoints.AdminUri, path))).StatusCode, Is.EqualTo(HttpStatusCode.NotFound), "cleartext admin listener " + path);
        }

        Assert.That((await http1.GetAsync(new Uri(_broker.ConsoleUri, "/console/console.css"))).StatusCode, Is.EqualTo(HttpStatusCode.OK), "served on the console listener");
    }
}
