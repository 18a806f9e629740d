using System.Text.Json;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// The OAuth door driven by npm's oauth4webapi (tests/interop-node/oauth.mjs), a strict client written against the RFCs by
/// someone else: discovery, the jwt-bearer grant, token exchange with and without an actor, DPoP, introspection, revocation
/// and step-up polling. The script runs once against one broker; each test asserts one step of what it reported.
/// scripts/test.sh installs the package (npm ci in tests/interop-node); without it these tests fail rather than skip.
/// </summary>
[NonParallelizable]
public sealed class OAuthNodeInteropTests
{
    private const string Tickets = BrokerServerFixture.TicketsAudience;
    private const string AccessTokenType = "urn:ietf:params:oauth:token-type:access_token";
    private static readonly string Planner = E2E.Agent("planner");
    private static readonly string Worker = "spiffe://dev.jitbroker.local/workers/w1";

    private JsonElement _out;
    private string _issuer = "";
    private string? _approved;

    [OneTimeSetUp]
    public async Task RunPeer()
    {
        var folder = Path.GetFullPath(Path.Combine(TestContext.CurrentContext.TestDirectory, "../../../../interop-node"));
        Assert.That(Path.Exists(Path.Combine(folder, "node_modules", "oauth4webapi")), Is.True, $"run `npm ci` in {folder} (scripts/test.sh does)");
        using var policy = new PolicyDirectory().Write("10-tickets.yaml", OAuthBroker.TicketsPolicy).Write("20-approvals.yaml", E2E.ApprovalPolicy);
        await using var broker = await OAuthBroker.StartAsync(new Dictionary<string, string?>
        {
            ["JitBroker:Policy:Path"] = policy.Path,
            ["JitBroker:Admin:Principals:0"] = "spiffe://dev.jitbroker.local/humans/leads/*",
            ["JitBroker:OAuth:ApprovalPollInterval"] = "00:00:01", // the shortest allowed: the step-up step waits at least this
        });
        _issuer = OAuthBroker.Issuer(broker);
        string Svid(string id) => OAuthBroker.Svid(broker, id);
        var svids = new Dictionary<string, string>
        {
            ["bearer"] = Svid(BrokerServerFixture.SupportBot), ["exchange"] = Svid(E2E.Agent("exchanger")),
            ["planner"] = Svid(Planner), ["planner2"] = Svid(Planner), ["worker"] = Svid(Worker), ["worker2"] = Svid(Worker), ["worker3"] = Svid(Worker),
            ["worker4"] = Svid("spiffe://dev.jitbroker.local/workers/w2"),
            ["dpop"] = Svid(E2E.Agent("dpop-holder")), ["dpop2"] = Svid(E2E.Agent("dpop-holder")),
            ["stranger"] = Svid(E2E.Agent("stranger")), ["stranger2"] = Svid(E2E.Agent("stranger")), ["refunder"] = Svid(E2E.Agent("refunder")),
            ["revoker"] = Svid(E2E.Agent("revoker")), ["revokerClient"] = Svid(E2E.Agent("revoker")), ["revokerClient2"] = Svid(E2E.Agent("revoker")),
            ["grpcAudience"] = broker.Svid(E2E.Agent("refused")), // addressed to the gRPC door ("jitbroker"), not to the issuer
            ["denied"] = Svid(E2E.Agent("refused")), ["unknownAudience"] = Svid(E2E.Agent("refused")), ["twoResources"] = Svid(E2E.Agent("refused")),
            ["resourceServerGrpc"] = broker.Svid(BrokerServerFixture.ResourceServer),
        };
        for (var i = 1; i <= 7; i++)
        {
            svids[i == 1 ? "resourceServer" : $"resourceServer{i}"] = Svid(BrokerServerFixture.ResourceServer);
        }

        var config = JsonSerializer.Serialize(new { issuer = _issuer, devKeyPath = broker.Dev.KeyPath, devKeyId = broker.Dev.KeyId, svids });
        using var lead = E2E.Admin(broker, E2E.Lead);
        var json = await OAuthPeer.RunAsync("node", [Path.Combine(folder, "oauth.mjs")], config, folder, async line =>
        {
            // The script asks for its pending refund to be approved once it has seen it pending (and polled too fast).
            if (line.StartsWith("approve ", StringComparison.Ordinal))
            {
                var id = line["approve ".Length..].Trim();
                var approval = await lead.GetApprovalAsync(id);
                Assert.That(approval.AgentId, Is.EqualTo(E2E.Agent("refunder")), "the approval is the refunder's own");
                await lead.DecideApprovalAsync(id, approve: true, "node interop");
                _approved = id;
            }
        });
        _out = JsonDocument.Parse(json).RootElement.Clone();
    }

    private JsonElement Step(string name)
    {
        var step = _out.GetProperty(name);
        Assert.That(step.TryGetProperty("step_failed", out var failed), Is.False, $"{name}: {failed}");
        return step;
    }

    private static string[] Strings(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString()!)];

    [Test]
    public void Discovery_at_both_well_known_paths_is_accepted_by_a_strict_client()
    {
        var d = Step("discovery");
        var a = d.GetProperty("as");
        Assert.Multiple(() =>
        {
            Assert.That(a.GetProperty("issuer").GetString(), Is.EqualTo(_issuer));
            Assert.That(a.GetProperty("token_endpoint").GetString(), Is.EqualTo(_issuer + "/oauth2/token"));
            Assert.That(a.GetProperty("introspection_endpoint").GetString(), Is.EqualTo(_issuer + "/oauth2/introspect"));
            Assert.That(a.GetProperty("revocation_endpoint").GetString(), Is.EqualTo(_issuer + "/oauth2/revoke"));
            Assert.That(a.GetProperty("jwks_uri").GetString(), Is.EqualTo(_issuer + "/.well-known/jwks.json"));
            Assert.That(Strings(a.GetProperty("grant_types_supported")), Is.EquivalentTo(new[]
            {
                "urn:ietf:params:oauth:grant-type:jwt-bearer", "urn:ietf:params:oauth:grant-type:token-exchange",
            }), "no client_credentials without an mTLS listener");
            Assert.That(Strings(a.GetProperty("dpop_signing_alg_values_supported")), Does.Contain("ES256"));
            Assert.That(Strings(a.GetProperty("authorization_details_types_supported")), Is.EqualTo(new[] { "jitbroker_task" }));
            Assert.That(d.GetProperty("same_at_oidc_path").GetBoolean(), Is.True, "/.well-known/openid-configuration serves the same document");
            Assert.That(d.GetProperty("wrong_issuer").GetProperty("code").GetString(), Is.EqualTo("OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED"),
                "the client does compare the issuer: the check above could fail");
        });
    }

    [Test]
    public void Jwt_bearer_grant_returns_an_rfc9068_access_token_for_the_declared_task()
    {
        var t = Step("jwt_bearer");
        var claims = t.GetProperty("claims");
        Assert.Multiple(() =>
        {
            Assert.That(t.GetProperty("token_type").GetString(), Is.EqualTo("bearer"));
            Assert.That(t.GetProperty("scope").GetString(), Is.EqualTo("tickets.read tool:zendesk"));
            Assert.That(t.GetProperty("task_id").GetString(), Is.EqualTo("node-oauth-1"));
            Assert.That(t.GetProperty("lease_id").GetString(), Does.StartWith("lease_"));
            Assert.That(t.GetProperty("expires_in").GetInt64(), Is.InRange(1, 600), "the rule's max_ttl is 10m");
            Assert.That(t.GetProperty("issued_token_type").ValueKind, Is.EqualTo(JsonValueKind.Null), "not a token exchange");
            Assert.That(t.GetProperty("refresh_token").ValueKind, Is.EqualTo(JsonValueKind.Null), "never a refresh token");
            Assert.That(t.GetProperty("headers").GetProperty("cache_control").GetString(), Is.EqualTo("no-store"), "RFC 6749 §5.1");
            Assert.That(t.GetProperty("jwt_header").GetProperty("typ").GetString(), Is.EqualTo("at+jwt"));
            Assert.That(claims.GetProperty("iss").GetString(), Is.EqualTo(_issuer), "iss is the metadata's issuer");
            Assert.That(claims.GetProperty("aud").GetString(), Is.EqualTo(Tickets), "aud is the resource");
            Assert.That(claims.GetProperty("client_id").GetString(), Is.EqualTo(BrokerServerFixture.SupportBot));
            Assert.That(claims.GetProperty("scope").GetString(), Is.EqualTo("tickets.read tool:zendesk"));
            Assert.That(claims.GetProperty("jti").GetString(), Is.EqualTo(t.GetProperty("lease_id").GetString()));
            Assert.That(claims.GetProperty("exp").GetInt64() - claims.GetProperty("iat").GetInt64(), Is.EqualTo(t.GetProperty("expires_in").GetInt64()));
        });
        var details = t.GetProperty("authorization_details");
        Assert.That(details.GetArrayLength(), Is.EqualTo(1));
        Assert.Multiple(() =>
        {
            Assert.That(details[0].GetProperty("type").GetString(), Is.EqualTo("jitbroker_task"));
            Assert.That(details[0].GetProperty("task_id").GetString(), Is.EqualTo("node-oauth-1"));
            Assert.That(details[0].GetProperty("action").GetString(), Is.EqualTo("tickets.read"));
            Assert.That(Strings(details[0].GetProperty("tools")), Is.EqualTo(new[] { "zendesk" }));
            Assert.That(Strings(details[0].GetProperty("resources")), Is.EqualTo(new[] { "tickets/1" }));
            Assert.That(Strings(details[0].GetProperty("locations")), Is.EqualTo(new[] { Tickets }));
        });
    }

    [Test]
    public void Token_exchange_of_a_workload_token_says_what_it_issued()
    {
        var t = Step("exchange");
        Assert.Multiple(() =>
        {
            Assert.That(t.GetProperty("issued_token_type").GetString(), Is.EqualTo(AccessTokenType), "RFC 8693 §2.2.1");
            Assert.That(t.GetProperty("token_type").GetString(), Is.EqualTo("bearer"));
            Assert.That(t.GetProperty("scope").GetString(), Is.EqualTo("tickets.read tool:crm"));
            Assert.That(t.GetProperty("task_id").GetString(), Is.EqualTo("node-oauth-x"));
            Assert.That(t.GetProperty("claims").GetProperty("client_id").GetString(), Is.EqualTo(E2E.Agent("exchanger")));
            Assert.That(t.GetProperty("claims").GetProperty("iss").GetString(), Is.EqualTo(_issuer));
        });
    }

    [Test]
    public void Token_exchange_with_an_actor_delegates_a_narrower_token_and_refuses_widening()
    {
        var d = Step("delegation");
        var parent = d.GetProperty("parent");
        var child = d.GetProperty("child");
        var claims = child.GetProperty("claims");
        Assert.Multiple(() =>
        {
            Assert.That(parent.GetProperty("scope").GetString(), Is.EqualTo("tickets.update tool:zendesk tool:crm"));
            Assert.That(child.GetProperty("scope").GetString(), Is.EqualTo("tickets.update tool:zendesk"), "narrowed to the scope asked");
            Assert.That(child.GetProperty("issued_token_type").GetString(), Is.EqualTo(AccessTokenType));
            Assert.That(child.GetProperty("task_id").GetString(), Is.EqualTo("node-oauth-deleg"), "the parent's task");
            Assert.That(child.GetProperty("lease_id").GetString(), Is.Not.EqualTo(parent.GetProperty("lease_id").GetString()));
            Assert.That(claims.GetProperty("aud").GetString(), Is.EqualTo(Tickets), "the parent's audience");
            Assert.That(claims.GetProperty("act").GetProperty("sub").GetString(), Is.EqualTo(Worker), "RFC 8693 §4.1: the worker acts");
            Assert.That(claims.GetProperty("exp").GetInt64(), Is.LessThanOrEqualTo(parent.GetProperty("claims").GetProperty("exp").GetInt64()));
            Assert.That(d.GetProperty("widening").GetProperty("error").GetString(), Is.EqualTo("invalid_scope"), "a tool the parent lacks");
            Assert.That(d.GetProperty("wrong_subject_type").GetProperty("error").GetString(), Is.EqualTo("invalid_request"));
            Assert.That(d.GetProperty("introspected").GetProperty("active").GetBoolean(), Is.True);
            Assert.That(d.GetProperty("introspected").GetProperty("act").GetProperty("sub").GetString(), Is.EqualTo(Worker));
        });
    }

    /// <summary>
    /// RFC 8693 §2.1: <c>scope</c> is "the desired scope of the requested security token", and the token's own scope names its
    /// action, so a client may ask for exactly what it will get: <c>tickets.update tool:crm</c>. DelegationNarrowing's own doc
    /// says "a plain token must be the parent's action, checked by the narrowing itself", but its code refuses every plain token.
    /// </summary>
    [Test]
    public void Token_exchange_with_an_actor_accepts_the_parents_action_in_scope()
    {
        var withAction = Step("delegation").GetProperty("with_action");
        Assert.That(withAction.GetProperty("kind").GetString(), Is.EqualTo("accepted"), withAction.ToString());
    }

    [Test]
    public void A_dpop_proof_makes_a_dpop_token_and_a_replayed_proof_is_refused()
    {
        var d = Step("dpop");
        Assert.Multiple(() =>
        {
            Assert.That(d.GetProperty("raw_token_type").GetString(), Is.EqualTo("DPoP"), "RFC 9449 §5");
            Assert.That(d.GetProperty("token").GetProperty("claims").GetProperty("cnf").GetProperty("jkt").GetString(),
                Is.EqualTo(d.GetProperty("thumbprint").GetString()), "RFC 9449 §6.1: bound to the client's key (RFC 7638 thumbprint)");
            Assert.That(d.GetProperty("introspected").GetProperty("token_type").GetString(), Is.EqualTo("DPoP"));
            Assert.That(d.GetProperty("introspected").GetProperty("cnf").GetProperty("jkt").GetString(), Is.EqualTo(d.GetProperty("thumbprint").GetString()));
            Assert.That(d.GetProperty("replay").GetProperty("status").GetInt32(), Is.EqualTo(400));
            Assert.That(d.GetProperty("replay").GetProperty("error").GetString(), Is.EqualTo("invalid_dpop_proof"), "RFC 9449 §11.1");
            Assert.That(d.GetProperty("replay").GetProperty("www_authenticate").GetString(), Does.StartWith("DPoP "));
        });
    }

    /// <summary>
    /// RFC 9449 §1: a DPoP-bound token is usable only with its key. A worker holding neither the planner's key nor any proof
    /// presents the planner's DPoP-bound token as subject_token: exchanging it would strip the binding, so it is refused.
    /// </summary>
    [Test]
    public void A_dpop_bound_parent_is_not_delegated_into_an_unbound_child()
    {
        var exchange = Step("dpop").GetProperty("bound_subject_exchange");
        Assert.Multiple(() =>
        {
            Assert.That(exchange.GetProperty("kind").GetString(), Is.EqualTo("body"), exchange.ToString());
            Assert.That(exchange.GetProperty("error").GetString(), Is.EqualTo("invalid_grant"), exchange.ToString());
            Assert.That(exchange.GetProperty("error_description").GetString(), Does.StartWith("delegation.subject_token_bound: "));
        });
    }

    [Test]
    public void Introspection_answers_resource_servers_however_they_authenticate_and_no_one_else()
    {
        var i = Step("introspection");
        var token = Step("jwt_bearer");
        foreach (var name in new[] { "by_assertion", "by_private_key_jwt", "by_bearer" })
        {
            var r = i.GetProperty(name);
            Assert.Multiple(() =>
            {
                Assert.That(r.GetProperty("active").GetBoolean(), Is.True, name);
                Assert.That(r.GetProperty("iss").GetString(), Is.EqualTo(_issuer), name);
                Assert.That(r.GetProperty("aud").GetString(), Is.EqualTo(Tickets), name);
                Assert.That(r.GetProperty("scope").GetString(), Is.EqualTo("tickets.read tool:zendesk"), name);
                Assert.That(r.GetProperty("client_id").GetString(), Is.EqualTo(BrokerServerFixture.SupportBot), name);
                Assert.That(r.GetProperty("task_id").GetString(), Is.EqualTo("node-oauth-1"), name);
                Assert.That(r.GetProperty("jti").GetString(), Is.EqualTo(token.GetProperty("lease_id").GetString()), name);
                Assert.That(r.GetProperty("token_type").GetString(), Is.EqualTo("Bearer"), name);
                Assert.That(r.GetProperty("exp").GetInt64(), Is.EqualTo(token.GetProperty("claims").GetProperty("exp").GetInt64()), name);
            });
        }

        Assert.Multiple(() =>
        {
            Assert.That(i.GetProperty("by_stranger").GetProperty("error").GetString(), Is.EqualTo("unauthorized_client"));
            Assert.That(i.GetProperty("by_stranger").GetProperty("error_description").GetString(), Does.StartWith("introspection.caller_not_allowed: "));
            Assert.That(i.GetProperty("unauthenticated").GetProperty("status").GetInt32(), Is.EqualTo(401));
            Assert.That(Strings(i.GetProperty("unauthenticated").GetProperty("errors")), Is.EqualTo(new[] { "invalid_client" }));
            Assert.That(i.GetProperty("garbage").EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "active" }), "RFC 7662 §2.2");
            Assert.That(i.GetProperty("garbage").GetProperty("active").GetBoolean(), Is.False);
        });
    }

    [Test]
    public void The_agent_revokes_its_own_token_and_introspection_then_says_inactive()
    {
        var r = Step("revocation");
        Assert.Multiple(() =>
        {
            Assert.That(r.GetProperty("status").GetInt32(), Is.EqualTo(200));
            Assert.That(r.GetProperty("processed").GetString(), Is.EqualTo("ok"));
            Assert.That(r.GetProperty("active_before").GetBoolean(), Is.True);
            Assert.That(r.GetProperty("after").GetProperty("active").GetBoolean(), Is.False);
            Assert.That(r.GetProperty("unknown_token_status").GetInt32(), Is.EqualTo(200), "RFC 7009 §2.2: an unknown token is answered 200");
            Assert.That(r.GetProperty("by_stranger").GetProperty("kind").GetString(), Is.EqualTo("body"), "RFC 7009 §2.1: not the stranger's token");
            Assert.That(r.GetProperty("by_stranger").GetProperty("status").GetInt32(), Is.EqualTo(400));
            Assert.That(r.GetProperty("by_stranger").GetProperty("error_description").GetString(), Does.StartWith("credential.not_holder: "));
            Assert.That(r.GetProperty("active_after_stranger").GetBoolean(), Is.True, "a stranger's revocation changes nothing");
        });
    }

    [Test]
    public void Step_up_answers_pending_then_slow_down_then_the_token_once_approved()
    {
        var s = Step("step_up");
        var pending = s.GetProperty("pending");
        Assert.That(pending.GetProperty("error").GetString(), Is.EqualTo("authorization_pending"), pending.ToString());
        var body = pending.GetProperty("body");
        Assert.Multiple(() =>
        {
            Assert.That(pending.GetProperty("status").GetInt32(), Is.EqualTo(400), "RFC 8628 §3.5");
            Assert.That(body.GetProperty("approval_id").GetString(), Does.StartWith("apr_"));
            Assert.That(body.GetProperty("interval").GetInt32(), Is.EqualTo(1), "the configured poll interval");
            Assert.That(body.GetProperty("expires_in").GetInt32(), Is.InRange(1, 600), "the rule's approval timeout is 10m");
            Assert.That(body.GetProperty("task_id").GetString(), Does.StartWith("oauth-"), "the task the broker named");
            Assert.That(s.GetProperty("first").GetProperty("error").GetString(), Is.EqualTo("authorization_pending"));
            Assert.That(s.GetProperty("too_fast").GetProperty("error").GetString(), Is.EqualTo("slow_down"), "RFC 8628 §3.5");
            Assert.That(_approved, Is.EqualTo(body.GetProperty("approval_id").GetString()));
        });
        Assert.That(s.TryGetProperty("granted", out var granted), Is.True, s.ToString());
        Assert.Multiple(() =>
        {
            Assert.That(granted.GetProperty("scope").GetString(), Is.EqualTo("payments.refund"));
            Assert.That(granted.GetProperty("task_id").GetString(), Is.EqualTo(body.GetProperty("task_id").GetString()));
            Assert.That(granted.GetProperty("claims").GetProperty("aud").GetString(), Is.EqualTo(E2E.PaymentsAudience));
            Assert.That(granted.GetProperty("expires_in").GetInt64(), Is.EqualTo(120), "ttl_seconds from authorization_details");
            Assert.That(Strings(s.GetProperty("polls")), Has.No.Member("slow_down"), "polling at the grown interval is polite");
        });
    }

    [TestCase("wrong_audience", "invalid_grant")]
    [TestCase("garbage_assertion", "invalid_grant")]
    [TestCase("missing_assertion", "invalid_request")]
    [TestCase("unsupported_grant", "unsupported_grant_type")]
    [TestCase("denied_action", "access_denied")]
    [TestCase("unknown_audience", "invalid_target")]
    [TestCase("two_resources", "invalid_target")]
    public void Refusals_are_rfc6749_errors_with_a_reason_code(string scenario, string error)
    {
        var r = Step("refusals").GetProperty(scenario);
        Assert.That(r.GetProperty("kind").GetString(), Is.EqualTo("body"), r.ToString());
        Assert.Multiple(() =>
        {
            Assert.That(r.GetProperty("status").GetInt32(), Is.EqualTo(400), r.ToString());
            Assert.That(r.GetProperty("error").GetString(), Is.EqualTo(error), r.ToString());
            Assert.That(r.GetProperty("error_description").GetString(), Does.Match(@"^[a-z_]+(\.[a-z_]+)+: \S"), "\"<reason code>: text\"");
        });
    }
}
