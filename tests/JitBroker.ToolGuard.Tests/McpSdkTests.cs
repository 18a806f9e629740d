using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using JitBroker.Testing;
using JitBroker.ToolGuard.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using NUnit.Framework;

namespace JitBroker.ToolGuard.Tests;

/// <summary>
/// ToolGuard in front of the official C# MCP SDK (ModelContextProtocol.AspNetCore 2.4.0, streamable HTTP): once with the
/// MCP guard middleware, once with the SDK's own request filters calling <see cref="McpToolGrants"/>. Either way a token
/// granting one tool lists only that tool and cannot call another.
/// </summary>
[TestFixture]
public sealed class McpSdkTests
{
    private FakeAuthorizationServer _issuer = null!;
    private HttpClient _http = null!;
    private string _token = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _issuer = await FakeAuthorizationServer.StartAsync();
        _http = new HttpClient();
        _token = _issuer.Mint(new Dictionary<string, object> { ["tools"] = new[] { "zendesk" } });
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _http.Dispose();
        await _issuer.DisposeAsync();
    }

    [Test]
    public async Task Behind_the_guard_middleware_the_SDK_server_lists_and_runs_only_the_granted_tool()
    {
        await using var app = await StartSdkServerAsync(useMiddleware: true);
        var url = app.Urls.First() + "/mcp";
        var (_, list) = await RpcAsync(url, "tools/list", new { });
        Assert.That(ToolNames(list), Is.EqualTo(new[] { "zendesk" }));
        var (status, call) = await RpcAsync(url, "tools/call", new { name = "zendesk", arguments = new { } });
        Assert.That((status, call.GetProperty("result").GetProperty("content")[0].GetProperty("text").GetString()), Is.EqualTo((HttpStatusCode.OK, "zendesk ok")));
        var (refused, _) = await RpcAsync(url, "tools/call", new { name = "github", arguments = new { } });
        Assert.That(refused, Is.EqualTo(HttpStatusCode.Forbidden));
    }

    [Test]
    public async Task With_the_SDKs_request_filters_the_grants_are_enforced_inside_the_server()
    {
        await using var app = await StartSdkServerAsync(useMiddleware: false);
        var url = app.Urls.First() + "/mcp";
        var (_, list) = await RpcAsync(url, "tools/list", new { });
        Assert.That(ToolNames(list), Is.EqualTo(new[] { "zendesk" }));
        var (_, call) = await RpcAsync(url, "tools/call", new { name = "github", arguments = new { } });
        var result = call.GetProperty("result");
        Assert.That((result.GetProperty("isError").GetBoolean(), result.GetProperty("content")[0].GetProperty("text").GetString()),
            Is.EqualTo((true, ToolGuardReasons.ToolNotGranted)));
    }

    private async Task<(HttpStatusCode Status, JsonElement Message)> RpcAsync(string url, string method, object parameters)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url)
        {
            Content = new StringContent(JsonSerializer.Serialize(new { jsonrpc = "2.0", id = 1, method, @params = parameters }), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
        request.Headers.Accept.ParseAdd("application/json");
        request.Headers.Accept.ParseAdd("text/event-stream");
        request.Headers.Add("MCP-Protocol-Version", "2025-06-18");
        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        if (response.StatusCode != HttpStatusCode.OK)
        {
            return (response.StatusCode, default);
        }

        var json = response.Content.Headers.ContentType?.MediaType == "text/event-stream"
            ? text.Split('\n').Last(l => l.StartsWith("data:", StringComparison.Ordinal))["data:".Length..]
            : text;
        return (response.StatusCode, JsonDocument.Parse(json).RootElement.Clone());
    }

    private static IEnumerable<string?> ToolNames(JsonElement message) =>
        message.GetProperty("result").GetProperty("tools").EnumerateArray().Select(t => t.GetProperty("name").GetString());

    private Task<WebApplication> StartSdkServerAsync(bool useMiddleware) => LoopbackPorts.StartOnFreePortAsync(port => StartSdkServerAsync(useMiddleware, port));

    private async Task<WebApplication> StartSdkServerAsync(bool useMiddleware, int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Services.AddJitBrokerToolGuard(o =>
        {
            o.Issuer = _issuer.Issuer;
            o.Resource = ToolServer.Resource;
            o.AllowInsecureHttpForLoopback = true;
            o.WorkloadToken = _ => Task.FromResult("tool-svid");
            o.UseReports.Enabled = false;
        });
        var mcp = builder.Services.AddMcpServer().WithHttpTransport(o => o.Stateless = true).WithTools<TicketTools>();
        if (!useMiddleware)
        {
            mcp.WithRequestFilters(filters => filters
                .AddListToolsFilter(next => async (context, cancellationToken) =>
                {
                    var result = await next(context, cancellationToken);
                    result.Tools = [.. McpToolGrants.Filter(context.User!, result.Tools, t => t.Name)];
                    return result;
                })
                .AddCallToolFilter(next => (context, cancellationToken) =>
                    context.Params is { } p && McpToolGrants.IsGranted(context.User!, p.Name)
                        ? next(context, cancellationToken)
                        : ValueTask.FromResult(new CallToolResult { IsError = true, Content = [new TextContentBlock { Text = ToolGuardReasons.ToolNotGranted }] })));
        }

        var app = builder.Build();
        app.UseAuthentication();
        if (useMiddleware)
        {
            app.UseJitBrokerMcpToolGuard("/mcp");
        }

        app.UseAuthorization();
        app.MapMcp("/mcp").RequireJitBrokerToken();
        await app.StartAsync();
        return app;
    }

    [McpServerToolType]
    public sealed class TicketTools
    {
        [McpServerTool(Name = "zendesk"), System.ComponentModel.Description("Reads a ticket")]
        public static string Zendesk() => "zendesk ok";

        [McpServerTool(Name = "crm"), System.ComponentModel.Description("Reads a customer")]
        public static string Crm() => "crm ok";

        [McpServerTool(Name = "github"), System.ComponentModel.Description("Reads an issue")]
        public static string Github() => "github ok";
    }
}
