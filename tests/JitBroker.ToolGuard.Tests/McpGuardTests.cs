using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using JitBroker.ToolGuard.Tests.Support;
using NUnit.Framework;

namespace JitBroker.ToolGuard.Tests;

/// <summary>
/// The MCP guard in front of a JSON-RPC MCP endpoint: tools/call for a tool the token does not grant is 403
/// insufficient_scope before the server sees it; tools/list answers (JSON or SSE) are filtered to the granted tools;
/// bodies the guard cannot read unambiguously are refused, not passed on.
/// </summary>
[TestFixture]
public sealed class McpGuardTests
{
    private FakeAuthorizationServer _issuer = null!;
    private ToolServer _tool = null!;
    private HttpClient _http = null!;
    private string _token = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _issuer = await FakeAuthorizationServer.StartAsync();
        _tool = await ToolServer.StartAsync(o =>
        {
            o.Issuer = _issuer.Issuer;
            o.WorkloadToken = _ => Task.FromResult("tool-svid");
            o.UseReports.Enabled = false;
        });
        _http = new HttpClient();
        _token = _issuer.Mint(new Dictionary<string, object> { ["tools"] = new[] { "zendesk" } });
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _http.Dispose();
        await _tool.DisposeAsync();
        await _issuer.DisposeAsync();
    }

    private async Task<HttpResponseMessage> PostAsync(string body, string accept = "application/json", string? token = "")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _tool.BaseUrl + "/mcp") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Accept.ParseAdd(accept);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token.Length == 0 ? _token : token);
        }

        return await _http.SendAsync(request);
    }

    private static string Call(string tool) => """{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"TOOL","arguments":{}}}""".Replace("TOOL", tool, StringComparison.Ordinal);

    [Test]
    public async Task Calling_a_granted_tool_reaches_the_server_and_an_ungranted_one_is_403_naming_its_scope()
    {
        using var granted = await PostAsync(Call("zendesk"));
        Assert.That(await granted.Content.ReadAsStringAsync(), Does.Contain("called zendesk"));
        using var refused = await PostAsync(Call("github"));
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(Challenges.Of(refused).Single(), Does.StartWith("Bearer error=\"insufficient_scope\", scope=\"tool:github\""));
        Assert.That(Challenges.Reason(refused), Is.EqualTo(ToolGuardReasons.ToolNotGranted));
        Assert.That(await refused.Content.ReadAsStringAsync(), Does.Not.Contain("called"));
    }

    [TestCase("application/json")]
    [TestCase("text/event-stream")]
    public async Task Tools_list_is_filtered_to_the_granted_tools(string accept)
    {
        using var response = await PostAsync("""{"jsonrpc":"2.0","id":1,"method":"tools/list"}""", accept);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var text = await response.Content.ReadAsStringAsync();
        var json = accept == "text/event-stream" ? text.Split('\n').Single(l => l.StartsWith("data:", StringComparison.Ordinal))["data:".Length..] : text;
        var tools = JsonDocument.Parse(json).RootElement.GetProperty("result").GetProperty("tools");
        Assert.That(tools.EnumerateArray().Select(t => t.GetProperty("name").GetString()), Is.EqualTo(new[] { "zendesk" }));
        Assert.That(tools[0].GetProperty("description").GetString(), Is.EqualTo("the zendesk tool"), "the rest of the tool is untouched");
    }

    [TestCase("""{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"zendesk","name":"github"}}""")]
    [TestCase("""{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":7}}""")]
    [TestCase("""{"jsonrpc":"2.0","id":3,"method":"tools/call"}""")]
    [TestCase("""{"jsonrpc":"2.0","id":3,"method":"tools/call","params":""")]
    [TestCase("""[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"zendesk"}}, 5]""")]
    [TestCase("""{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"\uDC00"}}""")]
    public async Task Ambiguous_or_malformed_bodies_are_400_with_the_reason_header_not_passed_on(string body)
    {
        using var response = await PostAsync(body);
        await AssertRefusedAsync(response, HttpStatusCode.BadRequest, ToolGuardReasons.McpRequestMalformed);
    }

    [Test]
    public async Task One_ungranted_call_in_a_batch_refuses_the_batch_with_the_reason_header()
    {
        using var batch = await PostAsync("""[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"zendesk"}},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"crm"}}]""");
        Assert.That((batch.StatusCode, Challenges.Reason(batch)), Is.EqualTo((HttpStatusCode.Forbidden, ToolGuardReasons.ToolNotGranted)));
    }

    [TestCase(true)]
    [TestCase(false)]
    public async Task A_body_over_the_limit_is_413_with_the_reason_header_whether_or_not_its_length_is_announced(bool announced)
    {
        var json = "{\"x\":\"" + new string('a', McpToolGuard.MaxBodyBytes) + "\"}";
        using var request = new HttpRequestMessage(HttpMethod.Post, _tool.BaseUrl + "/mcp")
        {
            // Without Content-Length (chunked) the guard finds out while reading.
            Content = announced ? new StringContent(json, Encoding.UTF8, "application/json") : new ChunkedContent(Encoding.UTF8.GetBytes(json)),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
        using var response = await _http.SendAsync(request);
        await AssertRefusedAsync(response, HttpStatusCode.RequestEntityTooLarge, ToolGuardReasons.McpRequestTooLarge);
    }

    private static async Task AssertRefusedAsync(HttpResponseMessage response, HttpStatusCode status, string reason)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.Multiple(() =>
        {
            Assert.That((response.StatusCode, Challenges.Reason(response)), Is.EqualTo((status, reason)), body);
            Assert.That(JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("message").GetString(), Is.EqualTo(reason), "and in the JSON-RPC error");
            Assert.That(body, Does.Not.Contain("called"), "the server never saw it");
        });
    }

    private sealed class ChunkedContent(byte[] bytes) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) => stream.WriteAsync(bytes).AsTask();

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    [Test]
    public async Task Without_a_token_the_MCP_endpoint_answers_401_with_the_metadata_challenge()
    {
        using var response = await PostAsync(Call("zendesk"), token: null);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(Challenges.Of(response), Does.Contain($"Bearer resource_metadata=\"{_tool.BaseUrl}/.well-known/oauth-protected-resource\""));
    }
}
