using System.Diagnostics;
using System.Net;
using System.Text.Json;
using JitBroker.ToolGuard.Tests.Support;
using NUnit.Framework;

namespace JitBroker.ToolGuard.Tests;

/// <summary>
/// A resource server protected by ToolGuard against a real broker: tokens from its token endpoint, its metadata and
/// JWKS, its introspection (as the tool's own workload identity) and its revocation. Use reports go to a recording server.
/// </summary>
[TestFixture]
public sealed class BrokerTokenTests
{
    private Broker _broker = null!;
    private UseRecordingServer _uses = null!;
    private ToolServer _tool = null!;
    private HttpClient _http = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _broker = await Broker.StartAsync();
        _uses = await UseRecordingServer.StartAsync();
        _tool = await ToolServer.StartAsync(o =>
        {
            o.Issuer = _broker.Issuer;
            o.WorkloadToken = _broker.ToolSvidAsync;
            o.UseReports.Endpoint = _uses.Url;
            o.UseReports.FlushInterval = TimeSpan.FromMilliseconds(200);
        });
        _http = new HttpClient();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _http.Dispose();
        await _tool.DisposeAsync();
        await _uses.DisposeAsync();
        await _broker.DisposeAsync();
    }

    [Test]
    public async Task A_token_granting_the_tool_action_and_resource_is_allowed()
    {
        var token = await _broker.TokenAsync(Broker.Agent("reader"));
        using var response = await _http.SendAsync(Challenges.Get(_tool.BaseUrl + "/tickets/42", token: token));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
    }

    [Test]
    public async Task Without_a_token_the_answer_is_401_pointing_at_metadata_that_names_the_broker()
    {
        using var response = await _http.SendAsync(Challenges.Get(_tool.BaseUrl + "/tickets/42"));
        var metadataUrl = _tool.BaseUrl + "/.well-known/oauth-protected-resource";
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(Challenges.Of(response), Does.Contain($"Bearer resource_metadata=\"{metadataUrl}\""), "no error= without a token (RFC 6750 §3.1)");

        var metadata = JsonDocument.Parse(await _http.GetStringAsync(metadataUrl)).RootElement;
        Assert.Multiple(() =>
        {
            Assert.That(metadata.GetProperty("resource").GetString(), Is.EqualTo(ToolServer.Resource));
            Assert.That(metadata.GetProperty("authorization_servers").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(new[] { _broker.Issuer }));
            Assert.That(metadata.GetProperty("bearer_methods_supported").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(new[] { "header" }));
            Assert.That(metadata.GetProperty("dpop_signing_alg_values_supported").EnumerateArray().Select(e => e.GetString()), Does.Contain("ES256"));
            Assert.That(metadata.GetProperty("scopes_supported").EnumerateArray().Select(e => e.GetString()),
                Is.EqualTo(new[] { "tickets.read", "tool:zendesk", "tool:crm", "tool:github" }));
            Assert.That(metadata.TryGetProperty("dpop_bound_access_tokens_required", out _), Is.False);
        });
    }

    [Test]
    public async Task A_token_for_another_audience_is_401_invalid_token_with_the_metadata_challenge()
    {
        var token = await _broker.TokenAsync(Broker.Agent("elsewhere"), audience: Broker.OtherAudience);
        using var response = await _http.SendAsync(Challenges.Get(_tool.BaseUrl + "/tickets/42", token: token));
        AssertInvalidToken(response, ToolGuardReasons.AudienceInvalid);
    }

    [Test]
    public async Task A_tampered_token_is_401_invalid_token()
    {
        var token = await _broker.TokenAsync(Broker.Agent("tamperer"), resources: """["tickets/1"]""");
        var parts = token.Split('.');
        var claims = System.Text.Encoding.UTF8.GetString(System.Buffers.Text.Base64Url.DecodeFromChars(parts[1])).Replace("tickets/1", "tickets/*", StringComparison.Ordinal);
        var forged = parts[0] + "." + System.Buffers.Text.Base64Url.EncodeToString(System.Text.Encoding.UTF8.GetBytes(claims)) + "." + parts[2];
        using var response = await _http.SendAsync(Challenges.Get(_tool.BaseUrl + "/tickets/2", token: forged));
        AssertInvalidToken(response, ToolGuardReasons.SignatureInvalid);
    }

    [Test]
    public async Task A_tool_the_token_does_not_grant_is_403_insufficient_scope_naming_the_scope()
    {
        var token = await _broker.TokenAsync(Broker.Agent("zendesk-only"));
        using var response = await _http.SendAsync(Challenges.Get(_tool.BaseUrl + "/github/7", token: token));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(Challenges.Of(response).Single(), Does.StartWith("Bearer error=\"insufficient_scope\", scope=\"tool:github\", resource_metadata=\""));
        Assert.That(Challenges.Reason(response), Is.EqualTo(ToolGuardReasons.ToolNotGranted));
    }

    [Test]
    public async Task A_resource_outside_the_tokens_resources_is_403_and_the_route_value_is_what_is_matched()
    {
        var token = await _broker.TokenAsync(Broker.Agent("one-ticket"), resources: """["tickets/42"]""");
        using var other = await _http.SendAsync(Challenges.Get(_tool.BaseUrl + "/tickets/43", token: token));
        Assert.That(other.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(Challenges.Reason(other), Is.EqualTo(ToolGuardReasons.ResourceNotGranted));
        Assert.That(Challenges.Of(other).Single(), Does.Contain("scope=\"tool:zendesk tickets.read\""), "the scopes the endpoint needs");
        using var own = await _http.SendAsync(Challenges.Get(_tool.BaseUrl + "/tickets/42", token: token));
        Assert.That(own.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task A_credential_revoked_at_the_broker_is_refused_by_the_tool_within_a_second_plus_the_cache()
    {
        var agent = Broker.Agent("revoked");
        var token = await _broker.TokenAsync(agent);
        using (var before = await _http.SendAsync(Challenges.Get(_tool.BaseUrl + "/tickets/1", token: token)))
        {
            Assert.That(before.StatusCode, Is.EqualTo(HttpStatusCode.OK), "active, and now in the introspection cache");
        }

        await _broker.RevokeAsync(agent, token);
        var clock = Stopwatch.StartNew();
        HttpStatusCode status;
        string? reason;
        do
        {
            using var response = await _http.SendAsync(Challenges.Get(_tool.BaseUrl + "/tickets/1", token: token));
            (status, reason) = (response.StatusCode, Challenges.Reason(response));
            if (status == HttpStatusCode.OK)
            {
                await Task.Delay(20);
            }
        }
        while (status == HttpStatusCode.OK && clock.Elapsed < TimeSpan.FromSeconds(5));

        var latency = clock.Elapsed;
        TestContext.Out.WriteLine($"revocation -> refusal at the tool: {latency.TotalMilliseconds:F1} ms (introspection cache {new ToolGuardOptions().Introspection.CacheDuration.TotalMilliseconds} ms)");
        Assert.That((status, reason), Is.EqualTo((HttpStatusCode.Unauthorized, ToolGuardReasons.Revoked)));
        Assert.That(latency, Is.LessThanOrEqualTo(TimeSpan.FromSeconds(1) + new ToolGuardOptions().Introspection.CacheDuration));
    }

    [Test]
    public async Task Every_allowed_and_refused_call_is_reported_to_the_broker_with_the_tools_identity()
    {
        var token = await _broker.TokenAsync(Broker.Agent("reported"));
        var jti = Broker.Claims(token).GetProperty("jti").GetString();
        (await _http.SendAsync(Challenges.Get(_tool.BaseUrl + "/tickets/9", token: token))).Dispose();
        (await _http.SendAsync(Challenges.Get(_tool.BaseUrl + "/github/9", token: token))).Dispose();

        var fingerprint = JitBroker.Core.Fingerprints.Of(token);
        Assert.That(CredentialUse.Fingerprint(token), Is.EqualTo(fingerprint), "the broker's fingerprint format");
        var mine = await EventuallyAsync(() => [.. _uses.Uses.Where(u => u.GetProperty("credential_fingerprint").GetString() == fingerprint)], 2);
        Assert.That(mine, Has.Length.EqualTo(2));
        var allowed = mine.Single(u => u.GetProperty("outcome").GetString() == "allowed");
        var refused = mine.Single(u => u.GetProperty("outcome").GetString() == "refused");
        Assert.Multiple(() =>
        {
            Assert.That(allowed.GetProperty("lease_id").GetString(), Is.EqualTo(jti));
            Assert.That((allowed.GetProperty("tool").GetString(), allowed.GetProperty("action").GetString(), allowed.GetProperty("resource").GetString()),
                Is.EqualTo(("zendesk", "tickets.read", "tickets/9")));
            Assert.That(allowed.GetProperty("audience").GetString(), Is.EqualTo(ToolServer.Resource));
            Assert.That(DateTimeOffset.TryParseExact(allowed.GetProperty("at").GetString(), "yyyy-MM-dd'T'HH:mm:ss.fff'Z'", null,
                System.Globalization.DateTimeStyles.AssumeUniversal, out _), Is.True, "RFC 3339 UTC");
            Assert.That((refused.GetProperty("tool").GetString(), refused.GetProperty("reason").GetString()), Is.EqualTo(("github", ToolGuardReasons.ToolNotGranted)));
        });
        var assertion = _uses.Batches.First(b => b.Body.GetProperty("uses").EnumerateArray()
            .Any(u => u.GetProperty("credential_fingerprint").GetString() == fingerprint)).Assertion!;
        var svid = Broker.Claims(assertion);
        Assert.That((svid.GetProperty("sub").GetString(), svid.GetProperty("aud").ToString()), Is.EqualTo((Broker.ToolIdentity, _broker.Issuer)),
            "reports are authenticated with the tool's own JWT-SVID for the broker");
    }

    internal static void AssertInvalidToken(HttpResponseMessage response, string reason)
    {
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        var bearer = Challenges.Of(response).Single(c => c.StartsWith("Bearer ", StringComparison.Ordinal));
        Assert.That(bearer, Does.Contain("resource_metadata=\"").And.Contain("error=\"invalid_token\"").And.Contain($"error_description=\"{reason}:"));
        Assert.That(Challenges.Reason(response), Is.EqualTo(reason));
    }

    internal static async Task<JsonElement[]> EventuallyAsync(Func<JsonElement[]> read, int count)
    {
        var clock = Stopwatch.StartNew();
        var found = read();
        while (found.Length < count && clock.Elapsed < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(50);
            found = read();
        }

        return found;
    }
}
