using JitBroker.Testing;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace JitBroker.PerfHarness;

/// <summary>
/// A broker running as its own process (<c>dotnet JitBroker.Server.dll</c>, or the apphost of a self-contained publish), embedded profile (so the dev trust
/// domain is trusted) with the Redis lease store, logging at Warning. Its CPU and memory are read from procfs.
/// </summary>
internal sealed class BrokerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;

    private BrokerProcess(Process process, StreamWriter log, Uri grpc, Uri http, Uri admin, TimeSpan startup)
    {
        _process = process;
        _log = log;
        GrpcUri = grpc;
        AdminUri = admin;
        HttpUri = http;
        StartupTime = startup;
    }

    public Uri GrpcUri { get; }

    /// <summary>The admin API's own listener.</summary>
    public Uri AdminUri { get; }

    public Uri HttpUri { get; }

    /// <summary>From process start to the first 200 from /readyz (which pings Redis).</summary>
    public TimeSpan StartupTime { get; }

    public int Pid => _process.Id;

    public TimeSpan CpuTime => ProcFs.CpuTime(Pid);

    public long RssKiB => ProcFs.RssKiB(Pid);

    public long PeakRssKiB => ProcFs.PeakRssKiB(Pid);

    /// <summary>A self-contained publish carries its runtime: its runtimeconfig lists included frameworks, not ones to find.</summary>
    private static bool SelfContained(string dll) =>
        File.ReadAllText(Path.ChangeExtension(dll, ".runtimeconfig.json")).Contains("\"includedFrameworks\"", StringComparison.Ordinal);

    /// <summary>
    /// An audit file for one phase. The harness flushes Redis between phases; a broker that then finds an audit
    /// file longer than the Redis audit stream backfills the stream from the file at start-up, which would
    /// measure the backfill, not the broker. So every phase that starts on a flushed Redis gets its own file.
    /// </summary>
    public static string AuditPath(string dataDirectory, string phase) => Path.Combine(dataDirectory, $"audit-{phase}.jsonl");

    /// <param name="settings">Extra configuration, key → value (for example "JitBroker:Audit:FsyncPolicy" → "Always").</param>
    /// <param name="brokerDll">Another build of the broker than <see cref="HarnessOptions.BrokerDll"/> (the plain one).</param>
    /// <param name="cores">Start the broker under <c>taskset -c</c> on these cores (see <see cref="CorePinning"/>); null for all.</param>
    public static async Task<BrokerProcess> StartAsync(HarnessOptions options, string dataDirectory, IReadOnlyDictionary<string, string> settings, string logName,
        string? brokerDll = null, string? cores = null)
    {
        var dll = Path.GetFullPath(brokerDll ?? options.BrokerDll);
        var ports = LoopbackPorts.Free(3);
        var (grpcPort, httpPort, adminPort) = (ports[0], ports[1], ports[2]);
        // A self-contained build (scripts/publish-server.sh, as the image ships it) is started by its apphost, a
        // framework-dependent one (bin/Release) by dotnet. taskset execs either: the process id stays the broker's.
        var command = SelfContained(dll) ? Path.ChangeExtension(dll, null) : "dotnet";
        var info = new ProcessStartInfo(cores is null ? command : "taskset")
        {
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (cores is not null)
        {
            info.ArgumentList.Add("-c");
            info.ArgumentList.Add(cores);
            info.ArgumentList.Add(command);
        }

        if (command == "dotnet")
        {
            info.ArgumentList.Add(dll);
        }

        foreach (var variable in options.BrokerEnvironment)
        {
            var eq = variable.IndexOf('=', StringComparison.Ordinal);
            info.Environment[variable[..eq]] = variable[(eq + 1)..];
        }

        var all = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["JitBroker:Profile"] = "embedded",
            ["JitBroker:DataDirectory"] = dataDirectory,
            ["JitBroker:Listen:Grpc"] = $"127.0.0.1:{grpcPort}",
            ["JitBroker:Listen:Http"] = $"127.0.0.1:{httpPort}",
            ["JitBroker:Listen:Admin"] = $"127.0.0.1:{adminPort}",
            ["JitBroker:Leases:Store"] = "redis",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in RedisUnderTest.BrokerSettings(options))
        {
            all[key] = value;
        }

        foreach (var (key, value) in settings)
        {
            all[key] = value;
        }

        foreach (var (key, value) in all)
        {
            info.ArgumentList.Add($"--{key}={value}");
        }

        var log = new StreamWriter(Path.Combine(dataDirectory, logName + ".log"), append: true) { AutoFlush = true };
        var watch = Stopwatch.StartNew();
        var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start the broker.");
        process.OutputDataReceived += (_, e) => Write(log, e.Data);
        process.ErrorDataReceived += (_, e) => Write(log, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var http = new Uri($"http://127.0.0.1:{httpPort}/");
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"The broker exited with code {process.ExitCode} before it was ready; see {logName}.log in {dataDirectory}.");
            }

            if (watch.Elapsed > TimeSpan.FromSeconds(90))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException("The broker was not ready within 90 s.");
            }

            try
            {
                using var response = await client.GetAsync(new Uri(http, "readyz")).ConfigureAwait(false);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    break;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            catch (TaskCanceledException)
            {
                // not answering yet
            }

            await Task.Delay(10).ConfigureAwait(false);
        }

        return new BrokerProcess(process, log, new Uri($"http://127.0.0.1:{grpcPort}"), http, new Uri($"http://127.0.0.1:{adminPort}"), watch.Elapsed);
    }

    /// <summary>SIGTERM (graceful host shutdown), then SIGKILL if it has not exited within 15 s.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            using (var kill = Process.Start("kill", ["-TERM", Pid.ToString(CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync().ConfigureAwait(false);
            }

            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await _process.WaitForExitAsync(wait.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }

        _process.Dispose();
        await _log.DisposeAsync().ConfigureAwait(false);
    }

    private static void Write(StreamWriter log, string? line)
    {
        if (line is not null)
        {
            lock (log)
            {
                log.WriteLine(line);
            }
        }
    }

}
