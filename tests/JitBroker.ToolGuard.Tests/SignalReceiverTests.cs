using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using JitBroker.ToolGuard.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace JitBroker.ToolGuard.Tests;

/// <summary>
/// ToolGuard as a Shared Signals receiver (issue 20 item 3) against the real broker's transmitter: it subscribes with its
/// own workload identity, the broker verifies the stream, and a revocation pushed to it is refused at once — although the
/// tool's introspection answers live ten minutes here, so nothing but the push can explain the refusal.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class SignalReceiverTests
{
    private Broker _broker = null!;
    private ToolServer _tool = null!;
    private HttpClient _http = null!;

    private string PushUrl => _tool.BaseUrl + "/.well-known/jitbroker/ssf-events";

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _broker = await SsfBroker.StartAsync();
        _tool = await SsfBroker.ToolAsync(_broker);
        _http = new HttpClient();
        await SsfBroker.WaitUntilHealthyAsync(_tool);
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _http.Dispose();
        await _tool.DisposeAsync();
        await _broker.DisposeAsync();
    }

    [TearDown]
    public void EndOutage() => _tool.PushOutage = false;

    [Test]
    public async Task The_tool_subscribes_at_start_up_for_its_audience_with_its_own_identity_and_the_broker_verifies_the_stream()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, _broker.Issuer + "/ssf/streams");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await _broker.ToolSvidAsync());
        using var response = await _http.SendAsync(request);
        var streams = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(streams.GetArrayLength(), Is.EqualTo(1), "re-subscribing every interval updates the one stream, never adds one");
        Assert.That(streams[0].GetProperty("delivery").GetProperty("endpoint_url").GetString(), Is.EqualTo(PushUrl));
        Assert.That(streams[0].GetProperty("aud").EnumerateArray().Select(a => a.GetString()), Is.EqualTo(new[] { ToolServer.Resource }));
        Assert.That(_tool.Services.GetRequiredService<PushHealth>().IsHealthy(TimeSpan.FromSeconds(2)), Is.True);
    }

    [Test]
    public async Task A_credential_revoked_at_the_broker_is_refused_by_push_long_before_the_introspection_cache_would_let_it_go()
    {
        var agent = Broker.Agent("pushed");
        var token = await _broker.TokenAsync(agent);
        Assert.That(await StatusAsync(token), Is.EqualTo(HttpStatusCode.OK), "introspection now caches 'active' for 10 minutes");

        await _broker.RevokeAsync(agent, token);
        var refusedAfter = await RefusedWithinAsync(token, TimeSpan.FromSeconds(3));

        Assert.That(refusedAfter, Is.Not.Null, "the push did not reach the tool within 3 s");
        TestContext.Out.WriteLine($"refused {refusedAfter!.Value.TotalMilliseconds:0} ms after the revocation answered");
    }

    [Test]
    public async Task A_kill_switch_refuses_every_token_of_the_agent_by_one_subject_event_and_spares_other_agents()
    {
        var agent = Broker.Agent("rogue");
        var tokens = await UsedTokensAsync(agent, 5);

        var bystander = await _broker.TokenAsync(Broker.Agent("bystander"));
        await SsfBroker.BlockAsync(_broker, agent);

        foreach (var token in tokens)
        {
            Assert.That(await RefusedWithinAsync(token, TimeSpan.FromSeconds(3)), Is.Not.Null);
        }

        Assert.That(_tool.Services.GetRequiredService<SubjectRevocations>().IsRevoked(agent, DateTimeOffset.UtcNow.AddSeconds(-5)), Is.True,
            "the subject-level event arrived (not only the per-credential ones)");
        Assert.That(await StatusAsync(bystander), Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task A_receiver_outage_followed_by_catch_up_loses_nothing()
    {
        var agent = Broker.Agent("outage");
        var tokens = await UsedTokensAsync(agent, 10);

        _tool.PushOutage = true;
        foreach (var token in tokens)
        {
            await _broker.RevokeAsync(agent, token);
        }

        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.That(await StatusAsync(tokens[0]), Is.EqualTo(HttpStatusCode.OK),
            "during the outage nothing reached the tool (its introspection answer is cached): the catch-up below is what refuses");

        _tool.PushOutage = false;
        foreach (var token in tokens)
        {
            Assert.That(await RefusedWithinAsync(token, TimeSpan.FromSeconds(5)), Is.Not.Null, "a SET queued during the outage was lost");
        }
    }

    public static IEnumerable<TestCaseData> BadSets()
    {
        static TestCaseData Case(string name, string err, Func<Broker, Task<(string Body, string ContentType)>> make) => new TestCaseData(make, err).SetName(name);
        var fresh = () => DateTimeOffset.UtcNow;
        yield return Case("A SET with a wrong content type is refused invalid_request", "invalid_request",
            b => Task.FromResult((SsfBroker.Sign(b, SsfBroker.Revoked(b.Issuer, ToolServer.Resource, "lease_x", fresh())), "application/json")));
        yield return Case("An oversized body is refused invalid_request", "invalid_request",
            _ => Task.FromResult((new string('a', 20_000), "application/secevent+jwt")));
        yield return Case("A non-ASCII body is refused invalid_request", "invalid_request",
            _ => Task.FromResult(("é.é.é", "application/secevent+jwt")));
        yield return Case("A truncated SET is refused invalid_request", "invalid_request",
            b => Task.FromResult((SsfBroker.Sign(b, SsfBroker.Revoked(b.Issuer, ToolServer.Resource, "lease_x", fresh()))[..40], "application/secevent+jwt")));
        yield return Case("A forged SET (another key under the broker's kid) is refused invalid_key", "invalid_key",
            b => Task.FromResult((SsfBroker.Sign(b, SsfBroker.Revoked(b.Issuer, ToolServer.Resource, "lease_x", fresh()), forger: ECDsa.Create(ECCurve.NamedCurves.nistP256)), "application/secevent+jwt")));
        yield return Case("A SET addressed to another audience is refused invalid_audience", "invalid_audience",
            b => Task.FromResult((SsfBroker.Sign(b, SsfBroker.Revoked(b.Issuer, Broker.OtherAudience, "lease_x", fresh())), "application/secevent+jwt")));
        yield return Case("A SET from another issuer is refused invalid_issuer", "invalid_issuer",
            b => Task.FromResult((SsfBroker.Sign(b, SsfBroker.Revoked("https://evil.example", ToolServer.Resource, "lease_x", fresh())), "application/secevent+jwt")));
        yield return Case("An expired SET (iat an hour ago) is refused invalid_request", "invalid_request",
            b => Task.FromResult((SsfBroker.Sign(b, SsfBroker.Revoked(b.Issuer, ToolServer.Resource, "lease_x", fresh().AddHours(-1))), "application/secevent+jwt")));
        yield return Case("A task token posted as a SET is refused invalid_request", "invalid_request",
            async b => (await b.TokenAsync(Broker.Agent("confused")), "application/secevent+jwt"));
        yield return Case("A SET without events is refused invalid_request", "invalid_request",
            b => Task.FromResult((SsfBroker.Sign(b, $$"""{"iss":"{{b.Issuer}}","jti":"set_1","iat":{{fresh().ToUnixTimeSeconds()}},"aud":"{{ToolServer.Resource}}"}"""), "application/secevent+jwt")));
        yield return Case("A session-revoked SET about another issuer's token is refused invalid_request", "invalid_request",
            b => Task.FromResult((SsfBroker.Sign(b, SsfBroker.Revoked(b.Issuer, ToolServer.Resource, "lease_x", fresh(), subjectIssuer: "https://other.example")), "application/secevent+jwt")));
    }

    [TestCaseSource(nameof(BadSets))]
    public async Task Bad_input_at_the_receiver_is_refused_with_an_rfc_8935_error(Func<Broker, Task<(string Body, string ContentType)>> make, string err)
    {
        var (body, contentType) = await make(_broker);
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        using var response = await _http.PostAsync(PushUrl, content);
        var text = await response.Content.ReadAsStringAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), text);
        Assert.That(JsonDocument.Parse(text).RootElement.GetProperty("err").GetString(), Is.EqualTo(err), text);
        Assert.That(_tool.Services.GetRequiredService<IRevocationSignal>().IsRevoked("lease_x"), Is.False, "a refused SET revoked something");
    }

    [Test]
    public async Task A_replayed_set_is_acknowledged_once_applied_and_not_applied_again()
    {
        var set = SsfBroker.Sign(_broker, SsfBroker.Revoked(_broker.Issuer, ToolServer.Resource, "lease_replayed", DateTimeOffset.UtcNow, setId: "set_replayed"));
        foreach (var _ in new[] { 1, 2 })
        {
            using var content = new StringContent(set, Encoding.ASCII, "application/secevent+jwt");
            using var response = await _http.PostAsync(PushUrl, content);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), "a re-delivery after a lost acknowledgement must not be dropped");
        }

        Assert.That(_tool.Services.GetRequiredService<IRevocationSignal>().IsRevoked("lease_replayed"), Is.True);
        Assert.That(_tool.Services.GetRequiredService<SetVerifier>().FirstTime("set_replayed"), Is.False, "the SET id is remembered");
    }

    /// <summary>Tokens of <paramref name="agent"/>, each used once, so the tool's introspection cache holds "active" for them.</summary>
    private async Task<List<string>> UsedTokensAsync(string agent, int count)
    {
        var tokens = new List<string>();
        for (var i = 0; i < count; i++)
        {
            tokens.Add(await _broker.TokenAsync(agent));
            Assert.That(await StatusAsync(tokens[^1]), Is.EqualTo(HttpStatusCode.OK));
        }

        return tokens;
    }

    private async Task<HttpStatusCode> StatusAsync(string token)
    {
        using var response = await _http.SendAsync(Challenges.Get(_tool.BaseUrl + "/tickets/42", token: token));
        return response.StatusCode;
    }

    /// <summary>How long after the call until the tool refuses <paramref name="token"/> as revoked, or null past the timeout.</summary>
    private async Task<TimeSpan?> RefusedWithinAsync(string token, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < timeout)
        {
            using var response = await _http.SendAsync(Challenges.Get(_tool.BaseUrl + "/tickets/42", token: token));
            if (response.StatusCode == HttpStatusCode.Unauthorized && Challenges.Reason(response) == ToolGuardReasons.Revoked)
            {
                return watch.Elapsed;
            }

            await Task.Delay(10);
        }

        return null;
    }
}
