using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;
using NUnit.Framework;

namespace JitBroker.Console.Tests.InBrowser;

/// <summary>
/// The browser suite's own footing, without the console: chromium signs a person in at the real OpenID provider through
/// its stock form and lands on the console's redirect URI on the broker's HTTPS admin listener; the provider's tokens carry
/// what the console relies on (sub, verified e-mail, groups, auth_time) and it refuses a request without PKCE.
/// </summary>
[NonParallelizable]
public sealed class IdentityProviderTests
{
    private ConsoleSite _site = null!;

    [OneTimeSetUp]
    public async Task Start() => _site = await ConsoleSite.StartAsync(console: false);

    [OneTimeTearDown]
    public async Task Stop() => await _site.DisposeAsync();

    private Uri Redirect => _site.Page("/console/signin-oidc");

    private Uri AuthorizeUrl(string state, string nonce, string? verifier)
    {
        var query = new Dictionary<string, string?>
        {
            ["client_id"] = IdentityProvider.ClientId, ["redirect_uri"] = Redirect.ToString(), ["response_type"] = "code",
            ["scope"] = "openid profile email groups", ["state"] = state, ["nonce"] = nonce,
        };
        if (verifier is not null)
        {
            query["code_challenge"] = Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));
            query["code_challenge_method"] = "S256";
        }

        return new Uri(QueryHelpers.AddQueryString(new Uri(_site.Idp.Issuer, "/auth").ToString(), query));
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    [Test]
    public async Task A_person_signs_in_through_the_stock_form_and_the_ID_token_carries_what_the_console_needs()
    {
        var verifier = Base64Url(RandomNumberGenerator.GetBytes(32));
        using var browser = Browser.Start();
        browser.Go(AuthorizeUrl("s-1", "n-1", verifier));
        browser.WaitFor("input[name=login]").SendKeys("alice");
        browser.Find("input[name=password]").SendKeys("any password");
        browser.Shot("1-idp-login");
        browser.Find("button[type=submit]").Click();

        var back = browser.Until(d => d.Url.StartsWith(Redirect.ToString(), StringComparison.Ordinal) ? new Uri(d.Url) : null, what: "the redirect to the console");
        browser.Shot("2-redirected");
        var query = QueryHelpers.ParseQuery(back.Query);
        Assert.That((query["state"].ToString(), query["iss"].ToString()), Is.EqualTo(("s-1", _site.Idp.IssuerName)));

        using var http = new HttpClient();
        var wrongSecret = await RedeemAsync(http, query["code"].ToString(), verifier, "not the secret");
        Assert.That(wrongSecret.StatusCode, Is.EqualTo(System.Net.HttpStatusCode.Unauthorized), "the console's client is confidential");
        var redeemed = await RedeemAsync(http, query["code"].ToString(), verifier, _site.ClientSecret);
        var body = await redeemed.Content.ReadAsStringAsync();
        Assert.That(redeemed.IsSuccessStatusCode, Is.True, body);

        var idToken = JsonDocument.Parse(body).RootElement.GetProperty("id_token").GetString()!;
        var claims = JsonDocument.Parse(Convert.FromBase64String(Pad(idToken.Split('.')[1]))).RootElement;
        Assert.Multiple(() =>
        {
            Assert.That(claims.GetProperty("iss").GetString(), Is.EqualTo(_site.Idp.IssuerName));
            Assert.That(claims.GetProperty("sub").GetString(), Is.EqualTo("alice"));
            Assert.That(claims.GetProperty("nonce").GetString(), Is.EqualTo("n-1"));
            Assert.That(claims.GetProperty("email").GetString(), Is.EqualTo("alice@corp.example"));
            Assert.That(claims.GetProperty("email_verified").GetBoolean(), Is.True);
            Assert.That(claims.GetProperty("groups").EnumerateArray().Select(g => g.GetString()), Is.EqualTo(new[] { "approvers" }));
            Assert.That(claims.GetProperty("auth_time").GetInt64(), Is.EqualTo(TimeProvider.System.GetUtcNow().ToUnixTimeSeconds()).Within(60));
        });
    }

    [Test]
    public void Without_PKCE_the_provider_refuses_and_issues_no_code()
    {
        using var browser = Browser.Start();
        browser.Go(AuthorizeUrl("s-2", "n-2", verifier: null));
        var back = browser.Until(d => d.Url.StartsWith(Redirect.ToString(), StringComparison.Ordinal) ? new Uri(d.Url) : null, what: "the error redirect");
        browser.Shot("refused");
        var query = QueryHelpers.ParseQuery(back.Query);
        Assert.Multiple(() =>
        {
            Assert.That(query["error"].ToString(), Is.EqualTo("invalid_request"));
            Assert.That(query["error_description"].ToString(), Does.Contain("PKCE"));
            Assert.That(query.ContainsKey("code"), Is.False);
        });
    }

    private Task<HttpResponseMessage> RedeemAsync(HttpClient http, string code, string verifier, string secret) =>
        http.PostAsync(new Uri(_site.Idp.Issuer, "/token"), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = Redirect.ToString(), ["code_verifier"] = verifier,
            ["client_id"] = IdentityProvider.ClientId, ["client_secret"] = secret,
        }));

    private static string Pad(string base64Url)
    {
        var s = base64Url.Replace('-', '+').Replace('_', '/');
        return s + new string('=', (4 - (s.Length % 4)) % 4);
    }
}
