using System.Net;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using JitBroker.Cli;
using JitBroker.Protocol.V1;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// The OAuth door over real Kestrel: metadata whose issuer is the tokens' <c>iss</c>, the token endpoint's refusals of
/// hostile input (a clear 4xx JSON error and a stable reason, never a 500), the RFC 7523 audience rule that keeps a
/// gRPC-addressed SVID out of the token endpoint and the reverse, and — issue 18 item 7 — one decision path: the same
/// intent through gRPC and the token endpoint gets the same decision, grant, lease shape and audit records, and the kill
/// switch stops both doors alike.
/// </summary>
[TestFixture]
public sealed class OAuthDoorTests
{
    private const string Agent = "spiffe://dev.jitbroker.local/agents/support-bot";
    private PolicyDirectory _policy = null!;
    private BrokerServerFixture _broker = null!;
    private HttpClient _http = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _policy = new PolicyDirectory().Write("10-tickets.yaml", E2E.AnyAgentTicketsPolicy);
        _broker = await OAuthDoor.StartAsync(new Dictionary<string, string?>
        {
            ["JitBroker:Policy:Path"] = _policy.Path,
            ["JitBroker:Admin:Principals:0"] = E2E.AdminPattern,
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
    public async Task The_metadata_names_the_issuer_of_the_tokens_and_every_endpoint_under_it()
    {
        var issuer = OAuthDoor.Issuer(_broker);
        var metadata = JsonDocument.Parse(await _http.GetStringAsync(issuer + "/.well-known/oauth-authorization-server")).RootElement;
        var alias = JsonDocument.Parse(await _http.GetStringAsync(issuer + "/.well-known/openid-configuration")).RootElement;
        Assert.That(alias.GetRawText(), Is.EqualTo(metadata.GetRawText()), "the OpenID alias serves the same document");
        Assert.Multiple(() =>
        {
            Assert.That(metadata.GetProperty("issuer").GetString(), Is.EqualTo(issuer));
            Assert.That(metadata.GetProperty("token_endpoint").GetString(), Is.EqualTo(issuer + "/oauth2/token"));
            Assert.That(metadata.GetProperty("jwks_uri").GetString(), Is.EqualTo(issuer + "/.well-known/jwks.json"));
            Assert.That(metadata.GetProperty("introspection_endpoint").GetString(), Is.EqualTo(issuer + "/oauth2/introspect"));
            Assert.That(metadata.GetProperty("revocation_endpoint").GetString(), Is.EqualTo(issuer + "/oauth2/revoke"));
            Assert.That(Strings(metadata, "grant_types_supported"), Is.EquivalentTo(new[] { OAuthDoor.JwtBearer, OAuthDoor.TokenExchange }));
            Assert.That(Strings(metadata, "authorization_details_types_supported"), Is.EqualTo(new[] { "jitbroker_task" }));
            Assert.That(Strings(metadata, "dpop_signing_alg_values_supported"), Does.Contain("ES256"));
            Assert.That(metadata.GetProperty("tls_client_certificate_bound_access_tokens").GetBoolean(), Is.False, "no mTLS listener here");
        });

        var (status, body, _) = await OAuthDoor.TokenAsync(_http, _broker, ("grant_type", OAuthDoor.JwtBearer),
            ("assertion", OAuthDoor.Assertion(_broker, E2E.Agent("meta-1"))), ("resource", BrokerServerFixture.TicketsAudience), ("scope", "tickets.read tool:zendesk"));
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), body.ToString());
        Assert.That(Claims(body.GetProperty("access_token").GetString()!).GetProperty("iss").GetString(), Is.EqualTo(issuer), "RFC 8414 §2: issuer = iss");
    }

    [Test]
    public async Task The_door_is_not_served_on_the_agent_or_admin_gRPC_listeners()
    {
        using var h2c = new HttpClient { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        foreach (var listener in new[] { _broker.GrpcUri, _broker.AdminUri })
        {
            using var response = await h2c.GetAsync(new Uri(listener, "/.well-known/oauth-authorization-server"));
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound), listener.ToString());
        }
    }

    private static IEnumerable<TestCaseData> HostileTokenRequests()
    {
        static TestCaseData Case(string name, string contentType, string body, string error, string reasonPrefix) =>
            new TestCaseData(contentType, body, error, reasonPrefix).SetName("Token endpoint refuses: " + name);
        yield return Case("JSON instead of a form", "application/json", "{\"grant_type\":\"x\"}", "invalid_request", "oauth.");
        yield return Case("a parameter twice", "application/x-www-form-urlencoded",
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&grant_type=client_credentials", "invalid_request", "oauth.");
        yield return Case("malformed UTF-8", "application/x-www-form-urlencoded", "grant_type=%FF%FE", "invalid_request", "oauth.");
        yield return Case("a truncated percent escape", "application/x-www-form-urlencoded", "grant_type=abc%2", "invalid_request", "oauth.");
        yield return Case("no grant type", "application/x-www-form-urlencoded", "assertion=x", "invalid_request", "oauth.");
        yield return Case("an unknown grant type", "application/x-www-form-urlencoded", "grant_type=password&username=a&password=b",
            "unsupported_grant_type", "oauth.");
        yield return Case("jwt-bearer without an assertion", "application/x-www-form-urlencoded",
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer", "invalid_request", "oauth.");
        yield return Case("a garbage assertion", "application/x-www-form-urlencoded",
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=not.a.jwt&resource=https%3A%2F%2Ftickets.internal.example&scope=tickets.read",
            "invalid_grant", "identity.");
        yield return Case("a body over 64 KiB", "application/x-www-form-urlencoded", "grant_type=" + new string('a', 70_000), "invalid_request", "oauth.");
        yield return Case("client_credentials without a client certificate", "application/x-www-form-urlencoded",
            "grant_type=client_credentials&client_id=spiffe%3A%2F%2Fdev.jitbroker.local%2Fagents%2Fx", "invalid_client", "oauth.");
        yield return Case("a token exchange without a subject token type", "application/x-www-form-urlencoded",
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=x", "invalid_request", "oauth.");
    }

    [TestCaseSource(nameof(HostileTokenRequests))]
    public async Task Hostile_token_request(string contentType, string body, string error, string reasonPrefix)
    {
        using var content = new ByteArrayContent(Encoding.ASCII.GetBytes(body));
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        using var response = await _http.PostAsync(OAuthDoor.Issuer(_broker) + "/oauth2/token", content);
        var text = await response.Content.ReadAsStringAsync();
        var json = JsonDocument.Parse(text).RootElement;
        Assert.Multiple(() =>
        {
            Assert.That((int)response.StatusCode, Is.InRange(400, 429), text);
            Assert.That(json.GetProperty("error").GetString(), Is.EqualTo(error), text);
            Assert.That(response.Headers.GetValues("jitbroker-reason").Single(), Does.StartWith(reasonPrefix));
            Assert.That(json.GetProperty("error_description").GetString(), Does.StartWith(response.Headers.GetValues("jitbroker-reason").Single() + ": "));
            Assert.That(response.Headers.CacheControl?.NoStore, Is.True, "RFC 6749 §5.1/§5.2: no-store");
            Assert.That(text, Does.Not.Contain("   at "), "no stack trace");
        });
    }

    [Test]
    public async Task Two_DPoP_headers_are_refused_with_a_DPoP_challenge()
    {
        var (status, body, response) = await OAuthDoor.PostAsync(_http, _broker, "/oauth2/token",
            [KeyValuePair.Create("grant_type", OAuthDoor.JwtBearer), KeyValuePair.Create("assertion", OAuthDoor.Assertion(_broker, E2E.Agent("dpop-2")))],
            r => { r.Headers.TryAddWithoutValidation("DPoP", "a.b.c"); r.Headers.TryAddWithoutValidation("DPoP", "d.e.f"); });
        Assert.That(status, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(body.GetProperty("error").GetString(), Is.EqualTo("invalid_dpop_proof"));
        Assert.That(response.Headers.WwwAuthenticate.ToString(), Does.StartWith("DPoP "));
    }

    [Test]
    public async Task An_assertion_must_be_addressed_to_the_door_and_a_door_assertion_is_not_accepted_over_gRPC()
    {
        var forGrpc = _broker.Svid(E2E.Agent("aud-1")); // aud = the broker's gRPC audience
        var (status, body, _) = await OAuthDoor.TokenAsync(_http, _broker, ("grant_type", OAuthDoor.JwtBearer), ("assertion", forGrpc),
            ("resource", BrokerServerFixture.TicketsAudience), ("scope", "tickets.read tool:zendesk"));
        Assert.That(status, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(body.GetProperty("error").GetString(), Is.EqualTo("invalid_grant"));
        Assert.That(body.GetProperty("error_description").GetString(), Does.StartWith("token.audience_mismatch"));

        using var client = _broker.Client();
        var refused = Assert.ThrowsAsync<RpcException>(() => client.RequestCredentialAsync(OAuthDoor.Assertion(_broker, E2E.Agent("aud-2")), E2E.Tickets("aud-2")));
        Assert.That(E2E.Reason(refused!), Is.EqualTo("token.audience_mismatch"));

        // Addressed to the token endpoint URL instead of the issuer: also this authorization server (RFC 7523 §3 item 3).
        var toEndpoint = _broker.Dev.MintSvid(E2E.Agent("aud-3"), OAuthDoor.Issuer(_broker) + "/oauth2/token", TimeSpan.FromMinutes(5));
        (status, body, _) = await OAuthDoor.TokenAsync(_http, _broker, ("grant_type", OAuthDoor.JwtBearer), ("assertion", toEndpoint),
            ("resource", BrokerServerFixture.TicketsAudience), ("scope", "tickets.read tool:zendesk"));
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), body.ToString());
    }

    [Test]
    public async Task A_resource_no_rule_grants_is_invalid_target_and_a_denied_action_access_denied_with_the_reason()
    {
        var (status, body, _) = await OAuthDoor.TokenAsync(_http, _broker, ("grant_type", OAuthDoor.JwtBearer),
            ("assertion", OAuthDoor.Assertion(_broker, E2E.Agent("target-1"))), ("resource", "https://payments.internal.example"), ("scope", "tickets.read"));
        Assert.That((status, body.GetProperty("error").GetString()), Is.EqualTo((HttpStatusCode.BadRequest, "invalid_target")), body.ToString());

        (status, body, _) = await OAuthDoor.TokenAsync(_http, _broker, ("grant_type", OAuthDoor.JwtBearer),
            ("assertion", OAuthDoor.Assertion(_broker, E2E.Agent("target-2"))), ("resource", BrokerServerFixture.TicketsAudience), ("scope", "tickets.delete"));
        Assert.That(body.GetProperty("error").GetString(), Is.EqualTo("access_denied"));
        Assert.That(body.GetProperty("error_description").GetString(), Does.StartWith("policy.denied: "));
    }

    [Test]
    public async Task The_same_intent_through_either_door_gets_the_same_decision_grant_lease_and_audit_records()
    {
        var grpcAgent = E2E.Agent("both-doors-grpc");
        var oauthAgent = E2E.Agent("both-doors-oauth");
        using var client = _broker.Client();
        var viaGrpc = await client.RequestCredentialAsync(_broker.Svid(grpcAgent),
            BrokerClient.NewRequest("same-intent", "tickets.read", BrokerServerFixture.TicketsAudience, ["zendesk"], ["tickets/42"], "answer ticket 42", TimeSpan.FromMinutes(2)));
        var details = """[{"type":"jitbroker_task","task_id":"same-intent","action":"tickets.read","purpose":"answer ticket 42","tools":["zendesk"],"resources":["tickets/42"],"ttl_seconds":120}]""";
        var (status, body, _) = await OAuthDoor.TokenAsync(_http, _broker, ("grant_type", OAuthDoor.JwtBearer),
            ("assertion", OAuthDoor.Assertion(_broker, oauthAgent)), ("resource", BrokerServerFixture.TicketsAudience), ("authorization_details", details));
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), body.ToString());

        var grpcToken = Claims(viaGrpc.Credential.Token);
        var oauthToken = Claims(body.GetProperty("access_token").GetString()!);
        Assert.Multiple(() =>
        {
            foreach (var claim in new[] { "iss", "aud", "scope", "action", "task_id" })
            {
                Assert.That(oauthToken.GetProperty(claim).GetRawText(), Is.EqualTo(grpcToken.GetProperty(claim).GetRawText()), claim);
            }

            Assert.That(oauthToken.GetProperty("tools").GetRawText(), Is.EqualTo(grpcToken.GetProperty("tools").GetRawText()));
            Assert.That(oauthToken.GetProperty("resources").GetRawText(), Is.EqualTo(grpcToken.GetProperty("resources").GetRawText()));
            Assert.That(oauthToken.GetProperty("exp").GetInt64() - oauthToken.GetProperty("iat").GetInt64(),
                Is.EqualTo(grpcToken.GetProperty("exp").GetInt64() - grpcToken.GetProperty("iat").GetInt64()), "same granted TTL");
            Assert.That(oauthToken.GetProperty("client_id").GetString(), Is.EqualTo(oauthAgent));
            Assert.That(body.GetProperty("scope").GetString(), Is.EqualTo(grpcToken.GetProperty("scope").GetString()));
            Assert.That(body.GetProperty("expires_in").GetInt64(), Is.EqualTo((long)viaGrpc.GrantedTtl.ToTimeSpan().TotalSeconds));
        });

        using var admin = E2E.Admin(_broker);
        var grpcLease = (await E2E.LeasesOfAsync(admin, grpcAgent)).Single();
        var oauthLease = (await E2E.LeasesOfAsync(admin, oauthAgent)).Single();
        Assert.Multiple(() =>
        {
            Assert.That(oauthLease.LeaseId, Is.EqualTo(body.GetProperty("lease_id").GetString()));
            Assert.That((oauthLease.TaskId, oauthLease.State, oauthLease.Audience, oauthLease.Action, oauthLease.IssuerKind),
                Is.EqualTo((grpcLease.TaskId, grpcLease.State, grpcLease.Audience, grpcLease.Action, grpcLease.IssuerKind)));
            Assert.That(oauthLease.Tools, Is.EqualTo(grpcLease.Tools));
            Assert.That(oauthLease.Resources, Is.EqualTo(grpcLease.Resources));
            Assert.That(oauthLease.RuleIds, Is.EqualTo(grpcLease.RuleIds).And.EqualTo(viaGrpc.RuleIds), "the same rule decided");
        });

        var audit = AuditEvents().Where(e => e.TryGetProperty("agent_id", out var a) && (a.GetString() == grpcAgent || a.GetString() == oauthAgent)).ToList();
        string Shape(string agent) => string.Join(",", audit.Where(e => e.GetProperty("agent_id").GetString() == agent)
            .Select(e => e.GetProperty("type").GetString() + "/" + string.Join("+", e.EnumerateObject().Select(p => p.Name).Order())));
        Assert.That(Shape(oauthAgent), Is.EqualTo(Shape(grpcAgent)).And.Contains("credential.issued"), "audit records of the same shape");
    }

    [Test]
    public async Task The_kill_switch_and_a_denial_stop_both_doors_alike()
    {
        var rogue = E2E.Agent("rogue-both-doors");
        using var admin = E2E.Admin(_broker);
        await admin.BlockAsync(new BlockAgentRequest { Pattern = rogue, Reason = "oauth door test" });
        using var client = _broker.Client();
        var grpc = Assert.ThrowsAsync<RpcException>(() => client.RequestCredentialAsync(_broker.Svid(rogue), E2E.Tickets("rogue-1")));
        var (status, body, _) = await OAuthDoor.TokenAsync(_http, _broker, ("grant_type", OAuthDoor.JwtBearer),
            ("assertion", OAuthDoor.Assertion(_broker, rogue)), ("resource", BrokerServerFixture.TicketsAudience), ("scope", "tickets.read tool:zendesk"));
        Assert.Multiple(() =>
        {
            Assert.That(grpc!.StatusCode, Is.EqualTo(StatusCode.PermissionDenied));
            Assert.That(E2E.Reason(grpc), Is.EqualTo("agent.blocked"));
            Assert.That((status, body.GetProperty("error").GetString()), Is.EqualTo((HttpStatusCode.BadRequest, "access_denied")));
            Assert.That(body.GetProperty("error_description").GetString(), Does.StartWith("agent.blocked: "));
        });

        var deniedGrpc = Assert.ThrowsAsync<RpcException>(() => client.RequestCredentialAsync(_broker.Svid(E2E.Agent("deleter")),
            BrokerClient.NewRequest("del-1", "tickets.delete", BrokerServerFixture.TicketsAudience, ["zendesk"], ["tickets/1"], "x", TimeSpan.FromMinutes(1))));
        (_, body, _) = await OAuthDoor.TokenAsync(_http, _broker, ("grant_type", OAuthDoor.JwtBearer),
            ("assertion", OAuthDoor.Assertion(_broker, E2E.Agent("deleter-2"))), ("resource", BrokerServerFixture.TicketsAudience), ("scope", "tickets.delete tool:zendesk"));
        Assert.That(body.GetProperty("error_description").GetString(), Is.EqualTo(deniedGrpc!.Status.Detail).And.StartWith(E2E.Reason(deniedGrpc) + ": "),
            "the same reason code and message");
    }

    private List<JsonElement> AuditEvents() =>
        [.. File.ReadLines(Path.Combine(_broker.DataDirectory, "audit.jsonl")).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement.Clone())];

    private static string[] Strings(JsonElement e, string name) => [.. e.GetProperty(name).EnumerateArray().Select(v => v.GetString()!)];

    internal static JsonElement Claims(string jwt)
    {
        var payload = jwt.Split('.')[1].Replace('-', '+').Replace('_', '/');
        payload = payload.PadRight(payload.Length + ((4 - (payload.Length % 4)) % 4), '=');
        return JsonDocument.Parse(Convert.FromBase64String(payload)).RootElement.Clone();
    }
}
