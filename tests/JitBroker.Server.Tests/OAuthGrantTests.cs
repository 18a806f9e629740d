using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using JitBroker.Cli;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// The OAuth door's grants and companions over real Kestrel, each against what its RFC says: a DPoP-bound token
/// (RFC 9449: <c>cnf.jkt</c> = the proof key's thumbprint, a replayed or misaddressed proof refused), step-up approval
/// polling (RFC 8628 §3.5), delegation by token exchange (RFC 8693: nested <c>act</c>, only narrowing, dies with the
/// parent), introspection (RFC 7662) and revocation by the holder (RFC 7009).
/// </summary>
[TestFixture]
public sealed class OAuthGrantTests
{
    private const string Delegations = """
        version: 1
        rules:
          - id: planner-tickets
            effect: allow
            principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/agents/planner"] }
            actions: ["tickets.update"]
            tools: ["zendesk", "crm"]
            resources: ["tickets/*"]
            credential: { kind: jwt, audiences: ["https://tickets.internal.example"], max_ttl: 10m }
        delegations:
          - id: planner-to-workers
            from: { spiffe_ids: ["spiffe://dev.jitbroker.local/agents/planner"] }
            to: ["spiffe://dev.jitbroker.local/workers/*"]
            actions: ["tickets.*"]
            max_depth: 3
        """;

    private const string Planner = "spiffe://dev.jitbroker.local/agents/planner";
    private const string Worker = "spiffe://dev.jitbroker.local/workers/w1";
    private PolicyDirectory _policy = null!;
    private BrokerServerFixture _broker = null!;
    private HttpClient _http = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _policy = new PolicyDirectory().Write("10-tickets.yaml", E2E.AnyAgentTicketsPolicy).Write("20-approvals.yaml", E2E.ApprovalPolicy)
            .Write("30-delegation.yaml", Delegations);
        _broker = await OAuthDoor.StartAsync(new Dictionary<string, string?>
        {
            ["JitBroker:Policy:Path"] = _policy.Path,
            ["JitBroker:Admin:Principals:0"] = E2E.AdminPattern,
            ["JitBroker:Admin:Principals:1"] = "spiffe://dev.jitbroker.local/humans/leads/*",
            ["JitBroker:OAuth:ApprovalPollInterval"] = "00:00:01",
        });
        _http = new HttpClient();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _http.Dispose();
        await _broker.DisposeAsync();
        _policy.Dispose();
    }

    [Test]
    public async Task A_DPoP_proof_binds_the_token_to_its_key_and_cannot_be_replayed_or_sent_elsewhere()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var tokenUrl = OAuthDoor.Issuer(_broker) + "/oauth2/token";
        var proof = Proof(key, "POST", tokenUrl);
        var (status, body, _) = await TicketsAsync(E2E.Agent("dpop-1"), r => r.Headers.Add("DPoP", proof));
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), body.ToString());
        var token = body.GetProperty("access_token").GetString()!;
        Assert.Multiple(() =>
        {
            Assert.That(body.GetProperty("token_type").GetString(), Is.EqualTo("DPoP"));
            Assert.That(OAuthDoorTests.Claims(token).GetProperty("cnf").GetProperty("jkt").GetString(), Is.EqualTo(Thumbprint(key)));
        });
        var introspection = await IntrospectAsync(token);
        Assert.That(introspection.GetProperty("cnf").GetProperty("jkt").GetString(), Is.EqualTo(Thumbprint(key)), "introspection reports the binding");
        Assert.That(introspection.GetProperty("token_type").GetString(), Is.EqualTo("DPoP"));

        (status, body, _) = await TicketsAsync(E2E.Agent("dpop-2"), r => r.Headers.Add("DPoP", proof));
        Assert.That((status, body.GetProperty("error").GetString()), Is.EqualTo((HttpStatusCode.BadRequest, "invalid_dpop_proof")));
        Assert.That(body.GetProperty("error_description").GetString(), Does.StartWith("dpop.proof_replayed"));

        var elsewhere = Proof(key, "POST", "http://127.0.0.1:1/oauth2/token");
        (_, body, _) = await TicketsAsync(E2E.Agent("dpop-3"), r => r.Headers.Add("DPoP", elsewhere));
        Assert.That(body.GetProperty("error_description").GetString(), Does.StartWith("dpop.htu_mismatch"));
    }

    [Test]
    public async Task A_request_that_needs_approval_polls_pending_then_slow_down_then_gets_its_token_once_approved()
    {
        var agent = E2E.Agent("oauth-refunds");
        (string, string)[] Refund(params (string, string)[] extra) =>
        [
            ("grant_type", OAuthDoor.JwtBearer), ("assertion", OAuthDoor.Assertion(_broker, agent)), ("resource", E2E.PaymentsAudience),
            ("scope", "payments.refund"),
            ("authorization_details", """[{"type":"jitbroker_task","task_id":"refund-7","purpose":"customer was double charged","resources":["orders/7"],"ttl_seconds":120}]"""),
            .. extra,
        ];
        var (status, body, _) = await OAuthDoor.TokenAsync(_http, _broker, Refund());
        Assert.That((status, body.GetProperty("error").GetString()), Is.EqualTo((HttpStatusCode.BadRequest, "authorization_pending")), body.ToString());
        var approvalId = body.GetProperty("approval_id").GetString()!;
        Assert.That(body.GetProperty("interval").GetInt32(), Is.EqualTo(1));
        Assert.That(body.GetProperty("expires_in").GetInt32(), Is.InRange(590, 600));
        Assert.That(body.GetProperty("task_id").GetString(), Is.EqualTo("refund-7"));

        (_, body, _) = await OAuthDoor.TokenAsync(_http, _broker, Refund(("approval_id", approvalId)));
        Assert.That(body.GetProperty("error").GetString(), Is.EqualTo("authorization_pending"), "the first poll: still waiting");
        (_, body, _) = await OAuthDoor.TokenAsync(_http, _broker, Refund(("approval_id", approvalId)));
        Assert.That(body.GetProperty("error").GetString(), Is.EqualTo("slow_down"), "polled again at once");
        Assert.That(body.GetProperty("error_description").GetString(), Does.Contain("6 seconds"), "RFC 8628 §3.5: the interval grows by 5 s");

        using var lead = E2E.Admin(_broker, E2E.Lead);
        await lead.DecideApprovalAsync(approvalId, approve: true, "refund is right");
        await Task.Delay(TimeSpan.FromSeconds(6.1));
        (status, body, _) = await OAuthDoor.TokenAsync(_http, _broker, Refund(("approval_id", approvalId)));
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), body.ToString());
        Assert.That(OAuthDoorTests.Claims(body.GetProperty("access_token").GetString()!).GetProperty("resources")[0].GetString(), Is.EqualTo("orders/7"));

        await Task.Delay(TimeSpan.FromSeconds(6.1));
        (_, body, _) = await OAuthDoor.TokenAsync(_http, _broker, Refund(("approval_id", approvalId)));
        Assert.That(body.GetProperty("error").GetString(), Is.EqualTo("invalid_grant"), "an approval is single-use");
        Assert.That(body.GetProperty("error_description").GetString(), Does.StartWith("approval.already_used"));
    }

    [Test]
    public async Task A_16_KiB_approval_id_is_refused_with_a_clear_status_and_a_stable_reason()
    {
        var (status, body, response) = await OAuthDoor.TokenAsync(_http, _broker,
            ("grant_type", OAuthDoor.JwtBearer), ("assertion", OAuthDoor.Assertion(_broker, E2E.Agent("oauth-long-approval"))), ("resource", E2E.PaymentsAudience),
            ("scope", "payments.refund"),
            ("authorization_details", """[{"type":"jitbroker_task","task_id":"refund-8","purpose":"customer was double charged","resources":["orders/8"],"ttl_seconds":120}]"""),
            ("approval_id", "appr_" + new string('a', 16 * 1024)));
        Assert.That(status, Is.EqualTo(HttpStatusCode.BadRequest), body.ToString());
        Assert.That(body.GetProperty("error").GetString(), Is.AnyOf("invalid_request", "invalid_grant"), body.ToString());
        Assert.That(response.Headers.TryGetValues("jitbroker-reason", out var reason) ? reason.Single() : null, Does.Match("^[a-z_]+\\.[a-z_.]+$"), body.ToString());
        Assert.That(body.ToString(), Does.Not.Contain(new string('a', 100)), "the oversized value is not echoed back");
    }

    [Test]
    public async Task A_token_exchange_with_an_actor_delegates_a_narrower_token_that_dies_with_its_parent()
    {
        var (status, body, _) = await OAuthDoor.TokenAsync(_http, _broker, ("grant_type", OAuthDoor.JwtBearer),
            ("assertion", OAuthDoor.Assertion(_broker, Planner)), ("resource", BrokerServerFixture.TicketsAudience), ("scope", "tickets.update tool:zendesk tool:crm"),
            ("authorization_details", """[{"type":"jitbroker_task","task_id":"xchg-1","resources":["tickets/1","tickets/2"]}]"""));
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), body.ToString());
        var parent = body.GetProperty("access_token").GetString()!;

        (string, string)[] Exchange(string scope, string? resource = null) =>
        [
            ("grant_type", OAuthDoor.TokenExchange), ("subject_token", parent), ("subject_token_type", "urn:ietf:params:oauth:token-type:access_token"),
            ("actor_token", OAuthDoor.Assertion(_broker, Worker)), ("actor_token_type", "urn:ietf:params:oauth:token-type:jwt"), ("scope", scope),
            .. resource is null ? Array.Empty<(string, string)>() : [("resource", resource)],
        ];
        (status, body, _) = await OAuthDoor.TokenAsync(_http, _broker, Exchange("tool:zendesk"));
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), body.ToString());
        Assert.That(body.GetProperty("issued_token_type").GetString(), Is.EqualTo("urn:ietf:params:oauth:token-type:access_token"));
        var child = body.GetProperty("access_token").GetString()!;
        var claims = OAuthDoorTests.Claims(child);
        Assert.Multiple(() =>
        {
            Assert.That(claims.GetProperty("sub").GetString(), Is.EqualTo(Planner), "RFC 8693 §4.1: the subject stays the planner");
            Assert.That(claims.GetProperty("act").GetProperty("sub").GetString(), Is.EqualTo(Worker), "the worker is the current actor");
            Assert.That(claims.GetProperty("client_id").GetString(), Is.EqualTo(Worker));
            Assert.That(claims.GetProperty("tools").EnumerateArray().Select(t => t.GetString()), Is.EqualTo(new[] { "zendesk" }));
        });

        (_, body, _) = await OAuthDoor.TokenAsync(_http, _broker, Exchange("tool:github"));
        Assert.That((body.GetProperty("error").GetString(), body.GetProperty("error_description").GetString()![..18]),
            Is.EqualTo(("invalid_scope", "delegation.widenin")), "a tool the parent does not hold");
        (_, body, _) = await OAuthDoor.TokenAsync(_http, _broker, Exchange("tool:zendesk", "https://payments.internal.example"));
        Assert.That(body.GetProperty("error").GetString(), Is.EqualTo("invalid_target"), "another audience");

        // The parent's holder revokes it (RFC 7009): the child goes with it.
        var revoked = await RevokeAsync(Planner, parent);
        Assert.That(revoked.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await IntrospectAsync(child)).GetProperty("active").GetBoolean(), Is.False, "the delegated child died with its parent");
        (_, body, _) = await OAuthDoor.TokenAsync(_http, _broker, Exchange("tool:zendesk"));
        Assert.That(body.GetProperty("error").GetString(), Is.EqualTo("invalid_grant"), "a revoked parent cannot be exchanged");
    }

    [Test]
    public async Task A_DPoP_bound_planner_token_cannot_be_exchanged_by_a_worker_that_lacks_the_key()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var (status, body, _) = await OAuthDoor.PostAsync(_http, _broker, "/oauth2/token",
        [
            KeyValuePair.Create("grant_type", OAuthDoor.JwtBearer), KeyValuePair.Create("assertion", OAuthDoor.Assertion(_broker, Planner)),
            KeyValuePair.Create("resource", BrokerServerFixture.TicketsAudience), KeyValuePair.Create("scope", "tickets.update tool:zendesk"),
            KeyValuePair.Create("authorization_details", """[{"type":"jitbroker_task","task_id":"xchg-bound","resources":["tickets/1"]}]"""),
        ], r => r.Headers.Add("DPoP", Proof(key, "POST", OAuthDoor.Issuer(_broker) + "/oauth2/token")));
        Assert.That(body.GetProperty("token_type").GetString(), Is.EqualTo("DPoP"), body.ToString());

        (status, body, _) = await OAuthDoor.TokenAsync(_http, _broker, ("grant_type", OAuthDoor.TokenExchange),
            ("subject_token", body.GetProperty("access_token").GetString()!), ("subject_token_type", "urn:ietf:params:oauth:token-type:access_token"),
            ("actor_token", OAuthDoor.Assertion(_broker, Worker)), ("actor_token_type", "urn:ietf:params:oauth:token-type:jwt"));
        Assert.That((status, body.GetProperty("error").GetString()), Is.EqualTo((HttpStatusCode.BadRequest, "invalid_grant")));
        Assert.That(body.GetProperty("error_description").GetString(), Does.StartWith("delegation.subject_token_bound"),
            "the binding would be stripped: a stolen DPoP token must stay useless");
    }

    [Test]
    public async Task Introspection_answers_resource_servers_and_revocation_only_the_holder()
    {
        var (_, body, _) = await TicketsAsync(E2E.Agent("introspected"));
        var token = body.GetProperty("access_token").GetString()!;
        var active = await IntrospectAsync(token);
        Assert.Multiple(() =>
        {
            Assert.That(active.GetProperty("active").GetBoolean(), Is.True);
            Assert.That(active.GetProperty("client_id").GetString(), Is.EqualTo(E2E.Agent("introspected")));
            Assert.That(active.GetProperty("aud").GetString(), Is.EqualTo(BrokerServerFixture.TicketsAudience));
            Assert.That(active.GetProperty("iss").GetString(), Is.EqualTo(OAuthDoor.Issuer(_broker)));
            Assert.That(active.GetProperty("scope").GetString(), Is.EqualTo("tickets.read tool:zendesk"));
            Assert.That(active.GetProperty("jti").GetString(), Is.EqualTo(body.GetProperty("lease_id").GetString()));
            Assert.That(active.GetProperty("exp").GetInt64(), Is.EqualTo(OAuthDoorTests.Claims(token).GetProperty("exp").GetInt64()));
        });

        var (status, refused, _) = await OAuthDoor.PostAsync(_http, _broker, "/oauth2/introspect",
            ClientAssertion(E2E.Agent("nosy")).Append(KeyValuePair.Create("token", token)));
        Assert.That((status, refused.GetProperty("error").GetString()), Is.EqualTo((HttpStatusCode.BadRequest, "unauthorized_client")), "not a resource server");
        (status, refused, _) = await OAuthDoor.PostAsync(_http, _broker, "/oauth2/introspect", [KeyValuePair.Create("token", token)]);
        Assert.That((status, refused.GetProperty("error").GetString()), Is.EqualTo((HttpStatusCode.Unauthorized, "invalid_client")), "no client authentication");

        var other = await RevokeAsync(E2E.Agent("someone-else"), token);
        Assert.That(other.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), "another agent's token is refused");
        Assert.That((await IntrospectAsync(token)).GetProperty("active").GetBoolean(), Is.True);
        Assert.That((await RevokeAsync(E2E.Agent("introspected"), "not-a-token")).StatusCode, Is.EqualTo(HttpStatusCode.OK), "RFC 7009 §2.2: unknown tokens are 200");
        Assert.That((await RevokeAsync(E2E.Agent("introspected"), token)).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var inactive = await IntrospectAsync(token);
        Assert.That(inactive.EnumerateObject().Select(p => p.Name + "=" + p.Value.GetRawText()), Is.EqualTo(new[] { "active=false" }),
            "RFC 7662 §2.2: nothing else about an inactive token");
        Assert.That(await Eventually.TrueAsync(() => Task.FromResult(File.ReadLines(Path.Combine(_broker.DataDirectory, "audit.jsonl"))
            .Any(l => l.Contains("\"credential.revoked_by_holder\"", StringComparison.Ordinal) && l.Contains(body.GetProperty("lease_id").GetString()!, StringComparison.Ordinal))),
            TimeSpan.FromSeconds(5)), Is.True, "the revocation is audited");
    }

    private Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> TicketsAsync(string agent, Action<HttpRequestMessage>? configure = null) =>
        OAuthDoor.PostAsync(_http, _broker, "/oauth2/token",
        [
            KeyValuePair.Create("grant_type", OAuthDoor.JwtBearer), KeyValuePair.Create("assertion", OAuthDoor.Assertion(_broker, agent)),
            KeyValuePair.Create("resource", BrokerServerFixture.TicketsAudience), KeyValuePair.Create("scope", "tickets.read tool:zendesk"),
        ], configure);

    private IEnumerable<KeyValuePair<string, string>> ClientAssertion(string id) =>
    [
        KeyValuePair.Create("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
        KeyValuePair.Create("client_assertion", OAuthDoor.Assertion(_broker, id)),
    ];

    private async Task<JsonElement> IntrospectAsync(string token)
    {
        var (status, body, _) = await OAuthDoor.PostAsync(_http, _broker, "/oauth2/introspect",
            ClientAssertion(BrokerServerFixture.ResourceServer).Append(KeyValuePair.Create("token", token)));
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), body.ToString());
        return body;
    }

    private async Task<HttpResponseMessage> RevokeAsync(string holder, string token) =>
        (await OAuthDoor.PostAsync(_http, _broker, "/oauth2/revoke", ClientAssertion(holder).Append(KeyValuePair.Create("token", token)))).Response;

    internal static string Thumbprint(ECDsa key)
    {
        var p = key.ExportParameters(false);
        var canonical = $"{{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"{B64(p.Q.X!)}\",\"y\":\"{B64(p.Q.Y!)}\"}}";
        return B64(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
    }

    internal static string Proof(ECDsa key, string method, string url)
    {
        var p = key.ExportParameters(false);
        var header = JsonSerializer.Serialize(new { typ = "dpop+jwt", alg = "ES256", jwk = new { kty = "EC", crv = "P-256", x = B64(p.Q.X!), y = B64(p.Q.Y!) } });
        var payload = JsonSerializer.Serialize(new { jti = Guid.NewGuid().ToString("N"), htm = method, htu = url, iat = DateTimeOffset.UtcNow.ToUnixTimeSeconds() });
        var input = B64(Encoding.UTF8.GetBytes(header)) + "." + B64(Encoding.UTF8.GetBytes(payload));
        return input + "." + B64(key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256));
    }

    private static string B64(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
