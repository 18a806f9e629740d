using JitBroker.Testing;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace JitBroker.Ha.Tests.Harness;

/// <summary>
/// One broker replica as its own OS process: <c>dotnet JitBroker.Server.dll</c> from this assembly's output
/// directory, configured only through <c>JITBROKER__…</c> environment variables, on loopback ports of its own.
/// <see cref="Kill"/> is SIGKILL — no shutdown hook, no flush, exactly like a crashed pod. Disposing kills too.
/// </summary>
/// <remarks>Free of NUnit so the benchmark program can link it. Output goes to <see cref="LogPath"/>.</remarks>
internal sealed class BrokerProcess : IAsyncDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(3) };
    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly Lock _logGate = new();
    private readonly long _startedAt;
    private int _disposed;

    private BrokerProcess(Process process, StreamWriter log, string logPath, string name, int grpcPort, int httpPort, int adminPort, long startedAt)
    {
        _process = process;
        _log = log;
        LogPath = logPath;
        Name = name;
        GrpcUri = new Uri($"http://127.0.0.1:{grpcPort}");
        AdminUri = new Uri($"http://127.0.0.1:{adminPort}");
        HttpUri = new Uri($"http://127.0.0.1:{httpPort}");
        _startedAt = startedAt;
    }

    public string Name { get; }

    public Uri GrpcUri { get; }

    /// <summary>The admin API's own listener (BrokerAdmin is not served on the agent port).</summary>
    public Uri AdminUri { get; }

    public Uri HttpUri { get; }

    public string LogPath { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>
    /// Starts a replica. <paramref name="settings"/> are JitBroker settings paths (<c>Leases:Store</c> …) and
    /// become <c>JITBROKER__LEASES__STORE</c> …; the listeners are set here. Returns at once: see <see cref="WaitReadyAsync"/>.
    /// </summary>
    public static BrokerProcess Start(string name, string logDirectory, IReadOnlyDictionary<string, string> settings)
    {
        var ports = LoopbackPorts.Free(3);
        var (grpcPort, httpPort, adminPort) = (ports[0], ports[1], ports[2]);
        var dll = Path.Combine(AppContext.BaseDirectory, "JitBroker.Server.dll");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException("JitBroker.Server.dll is not in the output directory (project reference missing?).", dll);
        }

        var info = new ProcessStartInfo(DotnetHost())
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        info.ArgumentList.Add(dll);
        info.Environment["JITBROKER__LISTEN__GRPC"] = $"127.0.0.1:{grpcPort}";
        info.Environment["JITBROKER__LISTEN__HTTP"] = $"127.0.0.1:{httpPort}";
        info.Environment["JITBROKER__LISTEN__ADMIN"] = $"127.0.0.1:{adminPort}";
        info.Environment["Logging__LogLevel__Default"] = "Warning";
        // Workstation GC: several brokers, the tests and Redis share two cores (the shipped default is server GC).
        info.Environment["DOTNET_gcServer"] = "0";
        foreach (var (key, value) in settings)
        {
            info.Environment["JITBROKER__" + key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        Directory.CreateDirectory(logDirectory);
        var logPath = Path.Combine(logDirectory, name + ".log");
        var log = new StreamWriter(logPath, append: true) { AutoFlush = true };
        var startedAt = Stopwatch.GetTimestamp();
        var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start the broker process.");
        var broker = new BrokerProcess(process, log, logPath, name, grpcPort, httpPort, adminPort, startedAt);
        process.OutputDataReceived += (_, e) => broker.Write(e.Data);
        process.ErrorDataReceived += (_, e) => broker.Write(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return broker;
    }

    /// <summary>Polls <c>/readyz</c> every 10 ms until it answers 200; returns the time since the process was started.</summary>
    public async Task<TimeSpan> WaitReadyAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var waited = Stopwatch.StartNew();
        while (waited.Elapsed < timeout)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"Broker {Name} exited with {_process.ExitCode} before it was ready:\n{Tail()}");
            }

            if (await IsReadyAsync(cancellationToken))
            {
                return Stopwatch.GetElapsedTime(_startedAt);
            }

            await Task.Delay(10, cancellationToken);
        }

        throw new TimeoutException($"Broker {Name} was not ready within {timeout}:\n{Tail()}");
    }

    /// <summary>True when <c>/readyz</c> answers 200 now (false on 503 or no answer).</summary>
    public async Task<bool> IsReadyAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            using var response = await Http.GetAsync(new Uri(HttpUri, "/readyz"), cancellationToken);
            return response.StatusCode == HttpStatusCode.OK;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
        {
            return false;
        }
    }

    /// <summary>SIGKILL: the process gets no chance to finish anything.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: false);
            _process.WaitForExit(10_000);
        }
    }

    /// <summary>The last lines the broker wrote (for failure messages).</summary>
    public string Tail(int lines = 30)
    {
        lock (_logGate)
        {
            _log.Flush();
        }

        try
        {
            using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            return string.Join('\n', reader.ReadToEnd().Split('\n').TakeLast(lines));
        }
        catch (IOException)
        {
            return "(no log)";
        }
    }

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return ValueTask.CompletedTask;
        }

        Kill();
        _process.Dispose();
        lock (_logGate)
        {
            _log.Dispose();
        }

        return ValueTask.CompletedTask;
    }

    private void Write(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_logGate)
        {
            try
            {
                _log.WriteLine(line);
            }
            catch (ObjectDisposedException)
            {
                // Output after disposal (the process's last words) is dropped.
            }
        }
    }

    private static string DotnetHost()
    {
        // The SDK and the test host export the muxer they run under; fall back to PATH.
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(host) && File.Exists(host))
        {
            return host;
        }

        var self = Environment.ProcessPath;
        return self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Name} (pid {Pid}, grpc {GrpcUri})");
}
