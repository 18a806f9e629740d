using System.Diagnostics;
using System.Text;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// The sample MCP server examples/mcp-tickets run as its own process on loopback, as it is deployed: configured only by
/// its command line (issuer, introspection cache) and a file holding its JWT-SVID. The solution build (CI, scripts/test.sh)
/// builds it beside this test project, in the same configuration.
/// </summary>
internal sealed class McpTicketsServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();
    private readonly string _svidFile;

    private McpTicketsServer(Process process, string svidFile, string baseUrl)
    {
        _process = process;
        _svidFile = svidFile;
        BaseUrl = baseUrl;
    }

    public string BaseUrl { get; }

    /// <summary>The MCP endpoint, and the server's resource identifier (its tokens' audience).</summary>
    public string McpUrl => BaseUrl + "/mcp";

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    public static string Dll()
    {
        // TestDirectory is tests/JitBroker.Server.Tests/bin/<Configuration>/net10.0.
        var testDirectory = TestContext.CurrentContext.TestDirectory;
        var configuration = Path.GetFileName(Path.GetDirectoryName(testDirectory.TrimEnd(Path.DirectorySeparatorChar)))!;
        var dll = Path.GetFullPath(Path.Combine(testDirectory, "../../../../../examples/mcp-tickets/bin", configuration, "net10.0/McpTickets.dll"));
        Assert.That(File.Exists(dll), Is.True, $"build examples/mcp-tickets ({configuration}) first: {dll} is missing (the solution build makes it)");
        return dll;
    }

    /// <param name="svid">The server's own JWT-SVID (audience = the issuer): written to a file, never to a command line.</param>
    public static async Task<McpTicketsServer> StartAsync(int port, string issuer, string svid, params string[] settings)
    {
        var baseUrl = $"http://127.0.0.1:{port}";
        var svidFile = Path.Combine(Path.GetTempPath(), $"mcp-tickets-svid-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(svidFile, svid);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Dll(), "--urls", baseUrl, "--ToolGuard:Issuer", issuer, "--ToolGuard:AllowInsecureHttpForLoopback", "true",
                     "--Tickets:WorkloadTokenFile", svidFile, "--Logging:LogLevel:Default", "Warning" }.Concat(settings))
        {
            start.ArgumentList.Add(a);
        }

        var server = new McpTicketsServer(Process.Start(start) ?? throw new InvalidOperationException("cannot start dotnet"), svidFile, baseUrl);
        server._process.OutputDataReceived += (_, e) => server.Append(e.Data);
        server._process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        server._process.BeginOutputReadLine();
        server._process.BeginErrorReadLine();
        using var http = new HttpClient();
        for (var i = 0; i < 150; i++)
        {
            if (server._process.HasExited)
            {
                break;
            }

            try
            {
                using var health = await http.GetAsync(baseUrl + "/healthz");
                if (health.IsSuccessStatusCode)
                {
                    return server;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }

            await Task.Delay(100);
        }

        var log = server.Log;
        await server.DisposeAsync();
        throw new InvalidOperationException("mcp-tickets did not start: " + log);
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_log)
            {
                _log.AppendLine(line);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        File.Delete(_svidFile);
    }
}
