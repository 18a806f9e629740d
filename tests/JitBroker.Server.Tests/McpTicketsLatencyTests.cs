using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// The number issue 19 asks for: EndTask (and an operator's kill switch) at the broker → the first refusal at the tool,
/// measured at the sample MCP server (examples/mcp-tickets, its own process) over loopback. Each try: a fresh task token, one
/// allowed tools/call (so the tool's introspection cache holds "active" — the worst case), the revocation by gRPC, then
/// tools/call every 10 ms until refused. Run explicitly (about three minutes):
/// <c>dotnet test tests/JitBroker.Server.Tests --filter Name~Revocation_latency</c>; results go to docs/benchmarks.md by hand.
/// </summary>
[NonParallelizable]
[Explicit("benchmark: about three minutes; its numbers are in docs/benchmarks.md")]
public sealed class McpTicketsLatencyTests
{
    private const int Tries = 50;

    [Test]
    public async Task Revocation_latency_from_EndTask_or_the_kill_switch_to_the_first_refusal_at_the_tool()
    {
        var ports = new[] { OAuthBroker.FreePort(), OAuthBroker.FreePort(), OAuthBroker.FreePort() };
        var urls = ports.Select(p => $"http://127.0.0.1:{p}/mcp").ToArray();
        var policy = McpTicketsInteropTests.Policy(urls[0]).Replace($"\"{urls[0]}\"", string.Join(", ", urls.Select(u => $"\"{u}\"")), StringComparison.Ordinal);
        using var policyDirectory = new PolicyDirectory().Write("10-mcp.yaml", policy);
        var settings = McpTicketsInteropTests.BrokerSettings(policyDirectory.Path, urls[0]);
        settings["JitBroker:Tools:ResourceServers:0:Audiences:1"] = urls[1];
        settings["JitBroker:Tools:ResourceServers:0:Audiences:2"] = urls[2];
        settings["JitBroker:Admin:Principals:0"] = E2E.AdminPattern;
        await using var broker = await OAuthBroker.StartAsync(settings);
        var issuer = OAuthBroker.Issuer(broker);
        string ToolSvid() => broker.Dev.MintSvid(McpTicketsInteropTests.Tool, issuer, TimeSpan.FromMinutes(30));
        // The first server runs ToolGuard's defaults: the number that matters is the one a tool gets without tuning.
        await using var cached = await McpTicketsServer.StartAsync(ports[0], issuer, ToolSvid());
        await using var uncached = await McpTicketsServer.StartAsync(ports[1], issuer, ToolSvid(), "--ToolGuard:Introspection:CacheDuration", "00:00:00");
        await using var jwksOnly = await McpTicketsServer.StartAsync(ports[2], issuer, ToolSvid(), "--ToolGuard:Introspection:Enabled", "false");
        using var http = new HttpClient();
        using var client = broker.Client();
        using var admin = E2E.Admin(broker);
        var agent = McpTicketsInteropTests.Agent;
        Task EndTask(string a, string task) => client.EndTaskAsync(broker.Svid(a), task);
        Task KillSwitch(string a, string task) => admin.BlockAsync(new JitBroker.Protocol.V1.BlockAgentRequest { Pattern = a, Reason = "latency benchmark" });

        var endTaskDefault = new List<double>();
        var killSwitchDefault = new List<double>();
        var endTask0 = new List<double>();
        for (var i = 0; i < Tries; i++)
        {
            endTaskDefault.Add(await TryOnceAsync(http, broker, cached.McpUrl, agent, $"lat-cd-{i}", EndTask, TimeSpan.FromSeconds(5)) ?? double.NaN);
            // A blocked agent stays blocked: every kill-switch try is another agent.
            killSwitchDefault.Add(await TryOnceAsync(http, broker, cached.McpUrl, E2E.Agent($"lat-ks-{i}"), $"lat-ks-{i}", KillSwitch, TimeSpan.FromSeconds(5)) ?? double.NaN);
            endTask0.Add(await TryOnceAsync(http, broker, uncached.McpUrl, agent, $"lat-c0-{i}", EndTask, TimeSpan.FromSeconds(5)) ?? double.NaN);
        }

        // JWKS only: the tool cannot learn of the revocation; it accepts until exp (+ ClockSkew). Three tries show it.
        var jwks = new List<double?>();
        for (var i = 0; i < 3; i++)
        {
            jwks.Add(await TryOnceAsync(http, broker, jwksOnly.McpUrl, agent, $"lat-jwks-{i}", EndTask, TimeSpan.FromSeconds(5)));
        }

        var cacheMs = new JitBroker.ToolGuard.ToolGuardOptions().Introspection.CacheDuration.TotalMilliseconds;
        var report = $"""
            machine: {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}
            date: {TimeProvider.System.GetUtcNow():O}
            EndTask, introspection cache {cacheMs} ms (default): {Summary(endTaskDefault)}
            kill switch (BlockAgent), introspection cache {cacheMs} ms (default): {Summary(killSwitchDefault)}
            EndTask, introspection cache 0 (every call): {Summary(endTask0)}
            JWKS only (introspection off): {string.Join(", ", jwks.Select(j => j is null ? "still accepted after 5 s" : $"{j:F3} ms"))}
            """;
        TestContext.Progress.WriteLine(report);
        await File.WriteAllTextAsync(Path.Combine(TestContext.CurrentContext.WorkDirectory, "mcp-revocation-latency.txt"), report);
        Assert.Multiple(() =>
        {
            Assert.That(endTaskDefault.Concat(killSwitchDefault).Concat(endTask0), Has.None.NaN, "every try refused within 5 s");
            Assert.That(Percentile(endTaskDefault, 0.99), Is.LessThan(1000), "issue 19: within 1 s p99 of EndTask, poll gap included");
            Assert.That(Percentile(killSwitchDefault, 0.99), Is.LessThan(1000), "issue 19: within 1 s p99 of the kill switch, poll gap included");
            Assert.That(jwks, Has.All.Null, "without introspection a revoked JWT is accepted until exp");
        });
    }

    /// <returns>Milliseconds from the revocation call's answer to the first refused call, or null if still accepted after <paramref name="limit"/>.</returns>
    private static async Task<double?> TryOnceAsync(HttpClient http, BrokerServerFixture broker, string mcpUrl, string agent, string task,
        Func<string, string, Task> revoke, TimeSpan limit)
    {
        var token = await TokenAsync(http, broker, mcpUrl, agent, task);
        Assert.That(await CallAsync(http, mcpUrl, token), Is.EqualTo(HttpStatusCode.OK), "allowed before the revocation");
        await revoke(agent, task);
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < limit)
        {
            if (await CallAsync(http, mcpUrl, token) != HttpStatusCode.OK)
            {
                return clock.Elapsed.TotalMilliseconds;
            }

            await Task.Delay(10);
        }

        return null;
    }

    private static async Task<string> TokenAsync(HttpClient http, BrokerServerFixture broker, string mcpUrl, string agent, string task)
    {
        var details = JsonSerializer.Serialize(new[] { new { type = "jitbroker_task", task_id = task, resources = new[] { "tickets/42" } } });
        var (status, body) = await OAuthHttp.PostAsync(http, broker, "/oauth2/token", ("grant_type", OAuthHttp.JwtBearer),
            ("assertion", OAuthBroker.Svid(broker, agent)), ("resource", mcpUrl), ("scope", "tickets.read tool:tickets.get"),
            ("authorization_details", details));
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), body.ToString());
        return body.GetProperty("access_token").GetString()!;
    }

    private static async Task<HttpStatusCode> CallAsync(HttpClient http, string mcpUrl, string token)
    {
        var rpc = new { jsonrpc = "2.0", id = 1, method = "tools/call", @params = new { name = "tickets.get", arguments = new { id = "42" } } };
        using var request = new HttpRequestMessage(HttpMethod.Post, mcpUrl) { Content = new StringContent(JsonSerializer.Serialize(rpc), Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Accept.ParseAdd("application/json");
        request.Headers.Accept.ParseAdd("text/event-stream");
        request.Headers.Add("MCP-Protocol-Version", "2025-06-18");
        using var response = await http.SendAsync(request);
        return response.StatusCode;
    }

    /// <summary>Nearest rank (no interpolation): with 50 tries p99 is the largest.</summary>
    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToList();
        return sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
    }

    private static string Summary(List<double> v) =>
        $"n={v.Count} p50={Percentile(v, 0.5):F3} ms p99={Percentile(v, 0.99):F3} ms min={v.Min():F3} ms max={v.Max():F3} ms";
}
