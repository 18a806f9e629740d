using JitBroker.Testing;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Grpc.Health.V1;
using Grpc.Net.Client;

namespace JitBroker.Chart.Tests.Server;

/// <summary>
/// The published broker as a child process, with exactly the pod's environment (plus PATH, and TMPDIR/HOME
/// pointing into the pod layout) and the pod's /app as working directory (the content root). Killed on dispose.
/// </summary>
internal sealed class BrokerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private BrokerProcess(Process process, int grpcPort, int httpPort)
    {
        _process = process;
        GrpcUri = new Uri($"http://127.0.0.1:{grpcPort}");
        HttpUri = new Uri($"http://127.0.0.1:{httpPort}");
    }

    public Uri GrpcUri { get; }

    public Uri HttpUri { get; }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>
    /// Starts the server. The listen addresses are the one deviation from the pod's environment: the chart binds
    /// 0.0.0.0 on fixed container ports; the test binds free loopback ports.
    /// </summary>
    public static BrokerProcess Start(PodLayout pod, IReadOnlyDictionary<string, string> imageEnvironment)
    {
        var ports = LoopbackPorts.Free(3);
        var (grpcPort, httpPort, adminPort) = (ports[0], ports[1], ports[2]);
        var info = new ProcessStartInfo(Path.Combine(PublishedServer.Directory, PublishedServer.Executable))
        {
            WorkingDirectory = pod.Map("/app"),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.Environment.Clear();
        info.Environment["PATH"] = Environment.GetEnvironmentVariable("PATH");
        info.Environment["HOME"] = pod.Map("/nonexistent");
        info.Environment["TMPDIR"] = pod.Map("/tmp");
        foreach (var (name, value) in imageEnvironment)
        {
            info.Environment[name] = value;
        }

        foreach (var (name, value) in pod.Environment)
        {
            info.Environment[name] = value;
        }

        info.Environment["JITBROKER__LISTEN__GRPC"] = $"127.0.0.1:{grpcPort}";
        info.Environment["JITBROKER__LISTEN__HTTP"] = $"127.0.0.1:{httpPort}";
        // A free port for the admin listener too: its default (50052) may be taken on a shared test machine.
        info.Environment["JITBROKER__LISTEN__ADMIN"] = $"127.0.0.1:{adminPort}";
        var process = Process.Start(info)!;
        var broker = new BrokerProcess(process, grpcPort, httpPort);
        process.OutputDataReceived += (_, e) => broker.Append(e.Data);
        process.ErrorDataReceived += (_, e) => broker.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return broker;
    }

    /// <summary>Waits until /healthz answers 200; fails with the server's output when it exits or takes too long.</summary>
    public async Task WaitUntilLiveAsync(TimeSpan timeout)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The broker exited with {_process.ExitCode}:\n{Output}");
            }

            try
            {
                using var response = await http.GetAsync(new Uri(HttpUri, "/healthz"));
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException)
            {
                // Slow start.
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"The broker did not answer /healthz within {timeout}:\n{Output}");
    }

    /// <summary>Polls /readyz until it answers <paramref name="expected"/>, returning the last status and body.</summary>
    public async Task<(HttpStatusCode Status, string Body)> ReadinessAsync(HttpStatusCode expected, TimeSpan timeout)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var clock = Stopwatch.StartNew();
        while (true)
        {
            using var response = await http.GetAsync(new Uri(HttpUri, "/readyz"));
            var body = await response.Content.ReadAsStringAsync();
            if (response.StatusCode == expected || clock.Elapsed > timeout)
            {
                return (response.StatusCode, body);
            }

            await Task.Delay(200);
        }
    }

    public async Task<HealthCheckResponse.Types.ServingStatus> GrpcHealthAsync()
    {
        using var channel = GrpcChannel.ForAddress(GrpcUri);
        var response = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(10));
        return response.Status;
    }

    /// <summary>Waits for the process to exit on its own and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"The broker did not exit within {timeout}:\n{Output}");
        }

        _process.WaitForExit(); // flushes the redirected output
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }

        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}
