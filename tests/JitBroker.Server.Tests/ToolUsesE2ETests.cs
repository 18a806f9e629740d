using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using JitBroker.Cli;
using JitBroker.Protocol.V1;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// Issue 19 items 2 and 3 over real Kestrel: a configured tool reports uses by gRPC and by <c>POST /tool-uses</c>, they land in
/// the audit chain, <c>jitctl audit trace</c> tells the task's story (a late use flagged), <c>jitctl audit verify</c> still
/// passes, and the lease's owner shows in <c>jitctl leases</c> and <c>jitctl agents</c>.
/// </summary>
[NonParallelizable]
public sealed class ToolUsesE2ETests
{
    private const string Tool = BrokerServerFixture.ResourceServer;
    private const string OtherTool = "spiffe://dev.jitbroker.local/tools/billing";
    private BrokerServerFixture _broker = null!;
    private BrokerClient _client = null!;
    private HttpClient _http = null!;
    private string _auditPath = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _broker = await OAuthDoor.StartAsync(new Dictionary<string, string?>
        {
            ["JitBroker:Admin:Principals:0"] = E2E.AdminPattern,
            ["JitBroker:Tools:ResourceServers:0:Identity"] = Tool,
            ["JitBroker:Tools:ResourceServers:0:Audiences:0"] = BrokerServerFixture.TicketsAudience,
            ["JitBroker:Tools:ResourceServers:1:Identity"] = OtherTool,
            ["JitBroker:Tools:ResourceServers:1:Audiences:0"] = "https://billing.internal.example",
        });
        _client = _broker.Client();
        _http = new HttpClient();
        _auditPath = Path.Combine(_broker.DataDirectory, "audit.jsonl");
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        _http.Dispose();
        _client.Dispose();
        await _broker.DisposeAsync();
    }

    private CredentialBroker.CredentialBrokerClient Grpc() => new(GrpcChannels.For(_broker.GrpcUri));

    private Metadata As(string id) => new() { { "authorization", "Bearer " + _broker.Svid(id) } };

    private static string Fingerprint(string token) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(token)));

    private static CredentialUse Use(RequestCredentialResponse issued, string outcome = "allowed", string reason = "", DateTimeOffset? at = null) => new()
    {
        CredentialFingerprint = Fingerprint(issued.Credential.Token), LeaseId = issued.LeaseId, Tool = "zendesk", Action = "tickets.read",
        Resource = "tickets/1", Outcome = outcome, Reason = reason, Audience = BrokerServerFixture.TicketsAudience,
        At = Timestamp.FromDateTimeOffset(at ?? TimeProvider.System.GetUtcNow()),
    };

    [Test]
    public async Task Uses_reported_by_grpc_are_traced_with_the_late_one_flagged_and_the_chain_still_verifies()
    {
        var issued = await E2E.IssueAsync(_broker, _client, BrokerServerFixture.SupportBot, "trace-grpc");
        var grpc = Grpc();
        var forged = Use(issued);
        forged.CredentialFingerprint = Fingerprint("forged");

        var rejectedBefore = RejectedRecords();
        var first = await grpc.ReportUsesAsync(new ReportUsesRequest { Uses = { Use(issued), Use(issued, "refused", "insufficient_scope"), forged } }, As(Tool));
        await _client.EndTaskAsync(_broker.Svid(BrokerServerFixture.SupportBot), "trace-grpc");
        var late = await grpc.ReportUsesAsync(new ReportUsesRequest { Uses = { Use(issued, at: TimeProvider.System.GetUtcNow().AddSeconds(1)) } }, As(Tool));
        var trace = await Jitctl.RunAsync(_broker.GrpcUri, null, "audit", "trace", _auditPath, "--task", "trace-grpc");
        var json = await Jitctl.RunAsync(_broker.GrpcUri, null, "audit", "trace", _auditPath, "--task", "trace-grpc", "--json");
        var verify = await Jitctl.RunAsync(_broker.GrpcUri, null, "audit", "verify", _auditPath);

        Assert.That((first.Accepted, first.Rejected), Is.EqualTo((2, 1)));
        Assert.That(first.RejectedReasons, Is.EqualTo(new[] { "2:tool_use.fingerprint_mismatch" }));
        Assert.That(late.Accepted, Is.EqualTo(1));
        Assert.That(trace.Code, Is.Zero, trace.ToString());
        Assert.That(trace.Out, Does.Contain("intent: tickets.read").And.Contain("issued").And.Contain("used").And.Contain("refused at tool")
            .And.Contain("USED LATE").And.Contain("revoked").And.Contain("task ended").And.Contain("reported by " + Tool)
            .And.Contain("owner support-lead@example.com").And.Contain(issued.LeaseId), trace.ToString());
        var types = json.Json().GetProperty("events").EnumerateArray().Select(e => e.GetProperty("type").GetString()).ToList();
        Assert.That(types, Is.SupersetOf(new[] { "credential.issued", "credential.used", "credential.use_refused", "lease.revoked", "task.ended" }));
        Assert.That(json.Json().GetProperty("verified").GetBoolean(), Is.True);
        Assert.That(types.IndexOf("credential.issued"), Is.LessThan(types.IndexOf("credential.used")), "in chain order");
        Assert.That(verify.Code, Is.Zero, verify.ToString());
        Assert.That(RejectedRecords() - rejectedBefore, Is.EqualTo(1), "one record per call");
        Assert.That(File.ReadAllLines(_auditPath), Has.None.Contains(issued.Credential.Token), "never the token");
    }

    [Test]
    public async Task A_caller_that_is_no_resource_server_is_refused_over_grpc()
    {
        var issued = await E2E.IssueAsync(_broker, _client, BrokerServerFixture.SupportBot, "trace-stranger");

        var ex = Assert.ThrowsAsync<RpcException>(async () =>
            await Grpc().ReportUsesAsync(new ReportUsesRequest { Uses = { Use(issued) } }, As(BrokerServerFixture.SupportBot)));
        var otherAudience = await Grpc().ReportUsesAsync(new ReportUsesRequest { Uses = { Use(issued) } }, As(OtherTool));

        Assert.That((ex!.StatusCode, E2E.Reason(ex)), Is.EqualTo((StatusCode.PermissionDenied, "tool_use.caller_not_resource_server")));
        Assert.That(otherAudience.RejectedReasons, Is.EqualTo(new[] { "0:tool_use.audience_not_served" }));
    }

    [Test]
    public async Task A_batch_over_500_is_refused_over_grpc()
    {
        var issued = await E2E.IssueAsync(_broker, _client, BrokerServerFixture.SupportBot, "trace-batch");
        var request = new ReportUsesRequest();
        request.Uses.AddRange(Enumerable.Range(0, 501).Select(_ => Use(issued)));

        var ex = Assert.ThrowsAsync<RpcException>(async () => await Grpc().ReportUsesAsync(request, As(Tool)));

        Assert.That((ex!.StatusCode, E2E.Reason(ex)), Is.EqualTo((StatusCode.InvalidArgument, "tool_use.batch_too_large")));
    }

    [Test]
    public async Task Uses_posted_as_json_are_recorded_and_traced()
    {
        var issued = await E2E.IssueAsync(_broker, _client, BrokerServerFixture.SupportBot, "trace-http");
        var body = JsonSerializer.Serialize(new
        {
            uses = new[]
            {
                new Dictionary<string, string>
                {
                    ["credential_fingerprint"] = Fingerprint(issued.Credential.Token), ["lease_id"] = issued.LeaseId, ["tool"] = "crm",
                    ["action"] = "tickets.read", ["resource"] = "tickets/9", ["outcome"] = "allowed", ["reason"] = "",
                    ["at"] = TimeProvider.System.GetUtcNow().ToString("yyyy-MM-dd'T'HH:mm:ss.fffK", System.Globalization.CultureInfo.InvariantCulture),
                    ["audience"] = BrokerServerFixture.TicketsAudience,
                },
            },
        });

        var (status, answer) = await PostAsync(body, Tool);
        var trace = await Jitctl.RunAsync(_broker.GrpcUri, null, "audit", "trace", _auditPath, "--task", "trace-http");

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), answer.ToString());
        Assert.That((answer.GetProperty("accepted").GetInt32(), answer.GetProperty("rejected").GetInt32()), Is.EqualTo((1, 0)));
        Assert.That(trace.Out, Does.Contain("allowed crm tickets.read tickets/9"), trace.ToString());
    }

    [TestCase("not json", "tool_use.body_invalid")]
    [TestCase("[]", "tool_use.body_invalid")]
    [TestCase("{}", "tool_use.body_invalid")]
    [TestCase("{\"uses\":[],\"uses\":[]}", "tool_use.body_invalid")]
    [TestCase("{\"uses\":[],\"extra\":1}", "tool_use.body_invalid")]
    [TestCase("{\"uses\":[{\"tool\":5}]}", "tool_use.body_invalid")]
    [TestCase("{\"uses\":[{\"tool\":\"x\",\"bogus\":\"y\"}]}", "tool_use.body_invalid")]
    [TestCase("{\"uses\":[{\"at\":\"yesterday\"}]}", "tool_use.body_invalid")]
    [TestCase("{\"uses\":[{\"at\":\"2026-12-03T08:00:00\"}]}", "tool_use.body_invalid")]
    [TestCase("{\"uses\":[\"x\"]}", "tool_use.body_invalid")]
    [TestCase("{\"uses\":{}}", "tool_use.body_invalid")]
    public async Task Hostile_bodies_are_refused_whole_with_a_stable_reason(string body, string reason)
    {
        var (status, answer) = await PostAsync(body, Tool);

        Assert.That(status, Is.EqualTo(HttpStatusCode.BadRequest), answer.ToString());
        Assert.That(answer.GetProperty("error_description").GetString(), Does.StartWith(reason));
    }

    [Test]
    public async Task Client_assertion_in_the_json_beside_a_bearer_token_or_sent_as_a_form_is_refused_with_a_stable_reason()
    {
        var assertion = _broker.Dev.MintSvid(Tool, OAuthDoor.Issuer(_broker), TimeSpan.FromMinutes(5));
        var json = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["uses"] = Array.Empty<object>(),
            ["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ["client_assertion"] = assertion,
        });
        // Two authentication methods in one request (RFC 6749 §2.3): a bearer workload token and a client_assertion member.
        var both = await PostAsync(json, Tool);
        // The same members as a form: /tool-uses takes JSON only, so nothing of it is read as credentials.
        using var form = new HttpRequestMessage(HttpMethod.Post, OAuthDoor.Issuer(_broker) + "/tool-uses")
        {
            Content = new FormUrlEncodedContent([
                KeyValuePair.Create("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                KeyValuePair.Create("client_assertion", assertion), KeyValuePair.Create("uses", "[]")]),
        };
        using var formResponse = await _http.SendAsync(form);
        var formBody = JsonDocument.Parse(await formResponse.Content.ReadAsStringAsync()).RootElement;

        Assert.Multiple(() =>
        {
            Assert.That((int)both.Status, Is.InRange(400, 401), both.Body.ToString());
            Assert.That(Reason(both.Body), Is.Not.Null.And.Match("^[a-z_]+\\.[a-z_.]+$"), both.Body.ToString());
            Assert.That((formResponse.StatusCode, Reason(formBody)), Is.EqualTo((HttpStatusCode.BadRequest, "tool_use.body_invalid")), formBody.ToString());
        });
    }

    [Test]
    public async Task Invalid_utf8_an_oversized_body_and_a_missing_caller_are_refused()
    {
        var badUtf8 = await PostBytesAsync([.. "{\"uses\":[{\"tool\":\""u8, 0xC3, 0x28, .. "\"}]}"u8], Tool);
        var oversized = await PostAsync("{\"uses\":[" + string.Join(",", Enumerable.Repeat("{\"tool\":\"" + new string('x', 1000) + "\"}", 1100)) + "]}", Tool);
        var anonymous = await PostAsync("{\"uses\":[]}", null);
        var stranger = await PostAsync("{\"uses\":[]}", BrokerServerFixture.SupportBot);

        Assert.That((badUtf8.Status, Reason(badUtf8.Body)), Is.EqualTo((HttpStatusCode.BadRequest, "tool_use.body_invalid")));
        Assert.That((oversized.Status, Reason(oversized.Body)), Is.EqualTo((HttpStatusCode.BadRequest, "tool_use.batch_too_large")));
        Assert.That(anonymous.Status, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(Reason(stranger.Body), Is.EqualTo("tool_use.caller_not_resource_server"));
    }

    [Test]
    public async Task The_owner_of_the_granting_rule_shows_in_jitctl_leases_and_agents()
    {
        var agent = BrokerServerFixture.SupportBot;
        await E2E.IssueAsync(_broker, _client, agent, "owned-task");

        var leases = await Jitctl.RunAsync(_broker.GrpcUri, E2E.AdminSvid(_broker), "leases", "--agent", agent, "--task", "owned-task");
        var agents = await Jitctl.RunAsync(_broker.GrpcUri, E2E.AdminSvid(_broker), "agents");
        var agentsJson = await Jitctl.RunAsync(_broker.GrpcUri, E2E.AdminSvid(_broker), "agents", "--json");

        Assert.That(leases.Out, Does.Contain("OWNER").And.Contain("support-lead@example.com"), leases.ToString());
        Assert.That(agents.Out, Does.Contain(agent).And.Contain("support-lead@example.com"), agents.ToString());
        var entry = agentsJson.Json().GetProperty("agents").EnumerateArray().Single(a => a.GetProperty("agent_id").GetString() == agent);
        Assert.That(entry.GetProperty("owners").EnumerateArray().Select(o => o.GetString()), Is.EqualTo(new[] { "support-lead@example.com" }));
        Assert.That(entry.GetProperty("tasks").EnumerateArray().Select(t => t.GetString()), Does.Contain("owned-task"));
    }

    [Test]
    public async Task Trace_refuses_a_tampered_chain_unless_told_and_says_so_for_an_unknown_task()
    {
        await E2E.IssueAsync(_broker, _client, BrokerServerFixture.SupportBot, "trace-tamper");
        var copy = Path.Combine(_broker.DataDirectory, "tampered.jsonl");
        var lines = File.ReadAllLines(_auditPath);
        var target = Array.FindIndex(lines, l => l.Contains("\"trace-tamper\"", StringComparison.Ordinal));
        lines[target] = lines[target].Replace("support-lead@example.com", "mallory@example.com", StringComparison.Ordinal);
        File.WriteAllLines(copy, lines);

        var refused = await Jitctl.RunAsync(_broker.GrpcUri, null, "audit", "trace", copy, "--task", "trace-tamper");
        var forced = await Jitctl.RunAsync(_broker.GrpcUri, null, "audit", "trace", copy, "--task", "trace-tamper", "--unverified");
        var unknown = await Jitctl.RunAsync(_broker.GrpcUri, null, "audit", "trace", _auditPath, "--task", "never-was");

        Assert.That(refused.Code, Is.EqualTo(ExitCodes.Negative), refused.ToString());
        Assert.That(refused.Out, Does.Not.Contain("mallory"));
        Assert.That(forced.Code, Is.Zero, forced.ToString());
        Assert.That(forced.Out, Does.Contain("UNVERIFIED").And.Contain("mallory"));
        Assert.That(unknown.Code, Is.EqualTo(ExitCodes.NotFound), unknown.ToString());
    }

    private int RejectedRecords() => File.ReadAllLines(_auditPath).Count(l => l.Contains("\"credential.use_report_rejected\"", StringComparison.Ordinal));

    private static string? Reason(JsonElement body) =>
        body.ValueKind == JsonValueKind.Object && body.TryGetProperty("error_description", out var d) ? d.GetString()!.Split(':')[0] : null;

    private Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(string body, string? caller) => PostBytesAsync(Encoding.UTF8.GetBytes(body), caller);

    private async Task<(HttpStatusCode Status, JsonElement Body)> PostBytesAsync(byte[] body, string? caller)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, OAuthDoor.Issuer(_broker) + "/tool-uses") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        if (caller is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _broker.Svid(caller));
        }

        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }
}
