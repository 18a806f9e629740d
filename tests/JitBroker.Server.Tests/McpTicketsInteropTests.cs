using System.Text.Json;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// Issue 19 items 4 and 5: the official MCP TypeScript SDK (npm @modelcontextprotocol/sdk, tests/interop-node/mcp.mjs) drives
/// the sample server examples/mcp-tickets — the C# MCP SDK behind JitBroker.ToolGuard — with a JitBroker credential. The SDK
/// meets the 401, discovers the protected-resource metadata and the broker, gets a one-tool token by the jwt-bearer grant,
/// sees one tool, calls it, is refused another with 403 insufficient_scope, and after the agent revokes its token is refused
/// within about a second. The sample reports every use to the broker, and <c>jitctl audit trace</c> shows them in the chain.
/// scripts/test.sh installs the package (npm ci) and the solution build builds the sample; without either these tests fail.
/// </summary>
[NonParallelizable]
public sealed class McpTicketsInteropTests
{
    internal const string Tool = BrokerServerFixture.ResourceServer;
    internal static readonly string Agent = E2E.Agent("mcp-client");
    private const string Task = "mcp-tickets-1";

    private JsonElement _out;
    private string _issuer = "";
    private string _mcpUrl = "";
    private CliResult _trace = null!;
    private CliResult _verify = null!;

    /// <summary>The three tools for any dev agent, with the MCP server's own URL as the audience (RFC 8707, RFC 9728 §3.3).</summary>
    internal static string Policy(string mcpUrl) => $$"""
        version: 1
        rules:
          - id: mcp-tickets
            effect: allow
            owner: support-lead@example.com
            principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/agents/*"] }
            actions: ["tickets.read", "tickets.update"]
            tools: ["tickets.get", "tickets.comment", "tickets.close"]
            resources: ["tickets/*"]
            credential: { kind: jwt, audiences: ["{{mcpUrl}}"], max_ttl: 10m }
        """;

    /// <summary>The broker, told that the sample's workload identity is the resource server for its URL (use reports).</summary>
    internal static Dictionary<string, string?> BrokerSettings(string policyPath, string mcpUrl) => new()
    {
        ["JitBroker:Policy:Path"] = policyPath,
        ["JitBroker:Tools:ResourceServers:0:Identity"] = Tool,
        ["JitBroker:Tools:ResourceServers:0:Audiences:0"] = mcpUrl,
    };

    [OneTimeSetUp]
    public async System.Threading.Tasks.Task RunPeer()
    {
        var folder = Path.GetFullPath(Path.Combine(TestContext.CurrentContext.TestDirectory, "../../../../interop-node"));
        Assert.That(Path.Exists(Path.Combine(folder, "node_modules", "@modelcontextprotocol", "sdk")), Is.True, $"run `npm ci` in {folder} (scripts/test.sh does)");
        var port = OAuthBroker.FreePort();
        _mcpUrl = $"http://127.0.0.1:{port}/mcp";
        using var policy = new PolicyDirectory().Write("10-mcp.yaml", Policy(_mcpUrl));
        await using var broker = await OAuthBroker.StartAsync(BrokerSettings(policy.Path, _mcpUrl));
        _issuer = OAuthBroker.Issuer(broker);
        await using var server = await McpTicketsServer.StartAsync(port, _issuer, OAuthBroker.Svid(broker, Tool));
        var config = JsonSerializer.Serialize(new
        {
            mcpUrl = _mcpUrl, issuer = _issuer, task = Task,
            svids = new { assertion = OAuthBroker.Svid(broker, Agent), revoke = OAuthBroker.Svid(broker, Agent), hostile = OAuthBroker.Svid(broker, Agent, _mcpUrl) },
        });
        var json = await OAuthPeer.RunAsync("node", [Path.Combine(folder, "mcp.mjs")], config, folder);
        _out = JsonDocument.Parse(json).RootElement.Clone();

        // Use reports are batched (1 s) and asynchronous: wait for the refusals to reach the chain.
        var audit = Path.Combine(broker.DataDirectory, "audit.jsonl");
        var trace = new[] { "audit", "trace", audit, "--task", Task, "--json" };
        for (var i = 0; i < 50; i++)
        {
            _trace = await Jitctl.RunAsync(broker.GrpcUri, null, trace);
            if (_trace.Code == 0 && Types().Count(t => t == "credential.use_refused") >= 2)
            {
                break;
            }

            await System.Threading.Tasks.Task.Delay(200);
        }

        await System.Threading.Tasks.Task.Delay(1500); // one more flush interval for reports still batched at the tool
        _trace = await Jitctl.RunAsync(broker.GrpcUri, null, trace);
        _verify = await Jitctl.RunAsync(broker.GrpcUri, null, "audit", "verify", audit);
        TestContext.Progress.WriteLine($"mcp-tickets log:\n{server.Log}");
    }

    private JsonElement Step(string name)
    {
        var step = _out.GetProperty(name);
        Assert.That(step.TryGetProperty("step_failed", out var failed), Is.False, $"{name}: {failed}");
        return step;
    }

    private List<string?> Types() => _trace.Code != 0 ? [] :
        [.. _trace.Json().GetProperty("events").EnumerateArray().Select(e => e.GetProperty("type").GetString())];

    [Test]
    public void Without_a_token_the_server_answers_401_pointing_at_metadata_that_names_the_broker()
    {
        var s = Step("unauthenticated");
        Assert.Multiple(() =>
        {
            Assert.That(s.GetProperty("status").GetInt32(), Is.EqualTo(401));
            Assert.That(s.GetProperty("resource_metadata").GetString(), Is.EqualTo(_mcpUrl.Replace("/mcp", "/.well-known/oauth-protected-resource/mcp", StringComparison.Ordinal)));
            Assert.That(s.GetProperty("prm").GetProperty("resource").GetString(), Is.EqualTo(_mcpUrl), "RFC 9728 §3.3: the URL the client called");
            Assert.That(s.GetProperty("prm").GetProperty("authorization_servers")[0].GetString(), Is.EqualTo(_issuer));
            Assert.That(s.GetProperty("prm").GetProperty("scopes_supported").EnumerateArray().Select(e => e.GetString()),
                Is.EquivalentTo(new[] { "tool:tickets.get", "tool:tickets.comment", "tool:tickets.close" }));
            Assert.That(s.GetProperty("as_issuer").GetString(), Is.EqualTo(_issuer));
            Assert.That(s.GetProperty("as_token_endpoint").GetString(), Is.EqualTo(_issuer + "/oauth2/token"));
        });
    }

    [Test]
    public void The_SDKs_own_auth_flow_goes_from_401_through_discovery_to_a_one_tool_token()
    {
        var s = Step("connect");
        var wire = s.GetProperty("wire").EnumerateArray().Select(w => $"{w.GetProperty("method").GetString()} {w.GetProperty("url").GetString()} {w.GetProperty("status").GetInt32()}").ToList();
        Assert.Multiple(() =>
        {
            Assert.That(s.GetProperty("server").GetString(), Is.EqualTo("mcp-tickets"));
            Assert.That(s.GetProperty("token_requests").GetInt32(), Is.EqualTo(1));
            Assert.That(wire[0], Is.EqualTo($"POST {_mcpUrl} 401"), string.Join("\n", wire));
            Assert.That(wire, Has.Some.StartsWith("GET " + _mcpUrl.Replace("/mcp", "/.well-known/oauth-protected-resource", StringComparison.Ordinal)).And.EndsWith(" 200"));
            Assert.That(wire, Has.Some.EqualTo($"POST {_issuer}/oauth2/token 200"), string.Join("\n", wire));
            Assert.That(wire, Has.Some.EqualTo($"POST {_mcpUrl} 200"), "initialize, retried with the token");
            Assert.That(s.GetProperty("scope").GetString(), Is.EqualTo("tickets.read tool:tickets.get"));
            Assert.That(s.GetProperty("claims").GetProperty("aud").GetString(), Is.EqualTo(_mcpUrl), "RFC 8707: the resource the SDK took from the metadata");
            Assert.That(s.GetProperty("claims").GetProperty("sub").GetString(), Is.EqualTo(Agent));
        });
    }

    [Test]
    public void Tools_list_shows_only_the_granted_tool_and_calling_it_works()
    {
        Assert.That(Step("list").GetProperty("tools").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(new[] { "tickets.get" }));
        var call = Step("call_granted");
        Assert.That((call.GetProperty("is_error").GetBoolean(), call.GetProperty("text").GetString()),
            Is.EqualTo((false, "ticket 42: Customer cannot log in after the outage [open] comments=0")));
    }

    [Test]
    public void Calling_another_tool_is_refused_403_insufficient_scope_naming_the_scope()
    {
        var s = Step("call_other");
        Assert.Multiple(() =>
        {
            Assert.That(s.TryGetProperty("accepted", out _), Is.False, s.ToString());
            Assert.That(s.GetProperty("status").GetInt32(), Is.EqualTo(403), s.ToString());
            Assert.That(s.GetProperty("code").GetInt32(), Is.EqualTo(403), "the SDK's StreamableHTTPError");
            Assert.That(s.GetProperty("challenge_error").GetString(), Is.EqualTo("insufficient_scope"));
            Assert.That(s.GetProperty("challenge_scope").GetString(), Is.EqualTo("tool:tickets.close"));
        });
    }

    [Test]
    public void The_SDKs_step_up_is_offered_the_missing_scope_and_nothing_runs_when_the_agent_declines()
    {
        var s = Step("step_up_declined");
        Assert.Multiple(() =>
        {
            Assert.That(s.TryGetProperty("accepted", out _), Is.False, s.ToString());
            Assert.That(s.GetProperty("status").GetInt32(), Is.EqualTo(403), s.ToString());
            Assert.That(s.GetProperty("challenge_scope").GetString(), Is.EqualTo("tool:tickets.comment"));
            Assert.That(s.GetProperty("message").GetString(), Does.Contain("step-up declined"), "the SDK asked the provider for a wider token");
            Assert.That(s.GetProperty("token_requests").GetInt32(), Is.EqualTo(2));
        });
    }

    [TestCase("widened_token", 401, "toolguard.signature_invalid")]
    [TestCase("unsigned_token", 401, "toolguard.signature_invalid")]
    [TestCase("svid_as_token", 401, "toolguard.issuer_invalid")] // the agent's JWT-SVID, addressed to this server: not the broker's
    [TestCase("batch_smuggling", 403, "toolguard.tool_not_granted")]
    [TestCase("name_not_a_string", 400, "toolguard.mcp_request_malformed")]
    [TestCase("duplicate_name", 400, "toolguard.mcp_request_malformed")]
    [TestCase("malformed_json", 400, "toolguard.mcp_request_malformed")]
    [TestCase("oversized", 413, "toolguard.mcp_request_too_large")]
    public void Hostile_requests_are_refused_with_a_status_and_a_reason(string scenario, int status, string reason)
    {
        var r = Step("hostile").GetProperty(scenario);
        // Every refusal carries the reason in the jitbroker-reason header; the MCP guard's 400/413 also in the JSON-RPC error.
        Assert.That((r.GetProperty("status").GetInt32(), r.GetProperty("reason").GetString()), Is.EqualTo((status, reason)), r.ToString());
        if (status is 400 or 413)
        {
            Assert.That(r.GetProperty("rpc_error").GetString(), Is.EqualTo(reason), r.ToString());
        }
    }

    [Test]
    public void After_the_agent_revokes_its_token_the_tool_refuses_it_within_a_second()
    {
        var s = Step("revocation");
        Assert.Multiple(() =>
        {
            Assert.That(s.GetProperty("revoke_status").GetInt32(), Is.EqualTo(200));
            Assert.That(s.GetProperty("status").GetInt32(), Is.EqualTo(401), s.ToString());
            Assert.That(s.GetProperty("www_authenticate").GetString(), Does.Contain("toolguard.revoked"), s.ToString());
            // The introspection cache is 0.5 s; the poll (every 20 ms plus a call) and a loaded CI machine get 1 s more.
            Assert.That(s.GetProperty("refused_after_ms").GetInt32(), Is.InRange(0, 1500), s.ToString());
        });
    }

    [Test]
    public void Audit_trace_shows_the_tasks_credential_the_refused_uses_and_the_revocation_in_one_verified_chain()
    {
        Assert.That(_trace.Code, Is.Zero, _trace.ToString());
        var json = _trace.Json();
        var refused = Events("credential.use_refused");
        var types = Types();
        Assert.Multiple(() =>
        {
            Assert.That(types, Is.SupersetOf(new[] { "credential.issued", "credential.use_refused", "lease.revoked" }), json.ToString());
            Assert.That(types.IndexOf("credential.issued"), Is.LessThan(types.IndexOf("credential.use_refused")), "in chain order");
            Assert.That(refused.Select(e => e.ToString()), Has.Some.Contains("tickets.close").And.Some.Contains("tickets.comment"), "both refused tools");
            Assert.That(refused.Select(e => e.ToString()), Has.All.Contains(Tool), "reported by the sample's workload identity");
            Assert.That(json.GetProperty("verified").GetBoolean(), Is.True);
            Assert.That(_verify.Code, Is.Zero, _verify.ToString());
        });
    }

    /// <summary>
    /// Allowed uses reach the chain: ToolGuard sends no reason with an allowed use, as the broker's ToolUseChecks requires
    /// (found failing on integration19, where every allowed use was rejected as tool_use.use_invalid).
    /// </summary>
    [Test]
    public void Audit_trace_shows_the_allowed_calls_of_the_granted_tool()
    {
        Assert.That(_trace.Code, Is.Zero, _trace.ToString());
        var used = Events("credential.used");
        Assert.That(used.Count(e => e.ToString().Contains("tickets.get", StringComparison.Ordinal)), Is.GreaterThanOrEqualTo(2),
            "the call_granted step and the warm-up call before revocation: " + _trace.Out);
        Assert.That(Types().IndexOf("credential.issued"), Is.LessThan(Types().IndexOf("credential.used")), "in chain order");
    }

    private List<JsonElement> Events(string type) => _trace.Code != 0 ? [] :
        [.. _trace.Json().GetProperty("events").EnumerateArray().Where(e => e.GetProperty("type").GetString() == type).Select(e => e.Clone())];

    /// <summary>
    /// A token refused at authentication (revoked, expired, bad DPoP) is reported against the request path, since the MCP
    /// body is not read yet — so the most telling use, a revoked credential tried again, reaches the chain.
    /// </summary>
    [Test]
    public void Audit_trace_shows_the_call_refused_after_revocation()
    {
        Assert.That(Events("credential.use_refused").Select(e => e.ToString()), Has.Some.Contains("toolguard.revoked"), _trace.Out);
    }
}
