using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using NUnit.Framework;

namespace JitBroker.Redis.Tests.Harness;

/// <summary>
/// A real redis-server (or redis-sentinel) process on 127.0.0.1, on a free port, in its own temp directory,
/// killed on dispose. Readiness is probed with a raw socket, so the harness does not depend on the client
/// under test. A missing binary fails the test: these tests are the proof the client works.
/// </summary>
/// <remarks>Shared by JitBroker.Redis.Tests and JitBroker.Leases.Tests (linked source).</remarks>
internal sealed class RedisServerProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(15);
    private readonly string _binary;
    private readonly string[] _arguments;
    private Process? _process;

    private RedisServerProcess(string binary, string directory, int port, string[] arguments)
    {
        _binary = binary;
        Directory = directory;
        Port = port;
        _arguments = arguments;
    }

    public int Port { get; }

    public string Directory { get; }

    public string Endpoint => $"127.0.0.1:{Port}";

    public string LogFile => Path.Combine(Directory, "server.log");

    /// <summary>Starts redis-server with the given extra arguments (<c>--appendonly yes</c> …) and waits until it answers.</summary>
    public static Task<RedisServerProcess> StartServerAsync(params string[] extraArguments) =>
        StartServerAsync(FreePort(), extraArguments);

    public static async Task<RedisServerProcess> StartServerAsync(int port, params string[] extraArguments)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("jitbroker-redis-").FullName;
        string[] arguments =
        [
            "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", directory, "--logfile", Path.Combine(directory, "server.log"), "--daemonize", "no",
            "--enable-debug-command", "local", .. extraArguments,
        ];
        var server = new RedisServerProcess(FindBinary("redis-server"), directory, port, arguments);
        await server.StartAsync();
        return server;
    }

    /// <summary>Starts redis-sentinel monitoring <paramref name="masterPort"/> as <paramref name="masterName"/> with quorum <paramref name="quorum"/>.</summary>
    public static async Task<RedisServerProcess> StartSentinelAsync(int masterPort, string masterName, string? masterPassword = null, int quorum = 1)
    {
        var port = FreePort();
        var directory = System.IO.Directory.CreateTempSubdirectory("jitbroker-sentinel-").FullName;
        var config = Path.Combine(directory, "sentinel.conf");
        await File.WriteAllTextAsync(config, $"""
            port {port}
            bind 127.0.0.1
            daemonize no
            dir {directory}
            logfile {Path.Combine(directory, "server.log")}
            sentinel monitor {masterName} 127.0.0.1 {masterPort} {quorum}
            sentinel down-after-milliseconds {masterName} 1000
            sentinel failover-timeout {masterName} 10000
            sentinel parallel-syncs {masterName} 1
            {(masterPassword is null ? "" : $"sentinel auth-pass {masterName} {masterPassword}")}
            """);
        var sentinel = new RedisServerProcess(FindBinary("redis-sentinel"), directory, port, [config]);
        await sentinel.StartAsync();
        return sentinel;
    }

    public static string FindBinary(string name)
    {
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/bin").Append("/usr/sbin"))
        {
            var candidate = Path.Combine(directory, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        Assert.Fail($"{name} is not installed (apt-get install -y redis-server redis-sentinel); the Redis tests need a real server.");
        throw new UnreachableException();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Kills the process (like a crash: no shutdown save).</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }

        _process?.Dispose();
        _process = null;
    }

    /// <summary>Starts the same server again: same port, same directory (so AOF / config survive).</summary>
    public Task RestartAsync() => StartAsync();

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp directory is harmless.
        }
    }

    /// <summary>Sends one inline command over a raw socket and returns the first reply line (for setup and probes).</summary>
    public async Task<string> RawCommandAsync(string inlineCommand)
    {
        var text = await RawReplyAsync(inlineCommand);
        var end = text.IndexOf("\r\n", StringComparison.Ordinal);
        return end < 0 ? text : text[..end];
    }

    /// <summary>Sends one inline command over a raw socket and returns what the first read brings back (a short reply, whole).</summary>
    public async Task<string> RawReplyAsync(string inlineCommand)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, Port).WaitAsync(TimeSpan.FromSeconds(2));
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(inlineCommand + "\r\n"));
        var buffer = new byte[4096];
        var read = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(2));
        return Encoding.ASCII.GetString(buffer, 0, read);
    }

    private async Task StartAsync()
    {
        var info = new ProcessStartInfo(_binary) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in _arguments)
        {
            info.ArgumentList.Add(argument);
        }

        _process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {_binary}.");
        // Drain the pipes so the child can never block on a full one.
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < StartTimeout)
        {
            if (_process.HasExited)
            {
                Assert.Fail($"{Path.GetFileName(_binary)} exited with {_process.ExitCode}: {ReadLog()}");
            }

            try
            {
                var reply = await RawCommandAsync("PING");
                if (reply is "+PONG" || reply.StartsWith("-NOAUTH", StringComparison.Ordinal))
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is SocketException or IOException or TimeoutException)
            {
                // Not listening yet.
            }

            await Task.Delay(50);
        }

        Assert.Fail($"{Path.GetFileName(_binary)} on port {Port} did not become ready within {StartTimeout}: {ReadLog()}");
    }

    private string ReadLog() => File.Exists(LogFile) ? string.Join('\n', File.ReadLines(LogFile).TakeLast(20)) : "(no log)";
}
