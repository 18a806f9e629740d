using System.Diagnostics;
using NUnit.Framework;

namespace JitBroker.Chart.Tests.Server;

/// <summary>
/// Publishes src/JitBroker.Server once (<c>dotnet publish -c Release</c> with <see cref="DockerfileFlags"/>, as the
/// Dockerfile does: ReadyToRun for this machine's architecture) for every test of this namespace.
/// JITBROKER_CHART_TEST_PUBLISH_DIR reuses an existing publish output instead.
/// </summary>
[SetUpFixture]
public sealed class PublishedServer
{
    /// <summary>The publish flags the Dockerfile's build stage uses besides <c>-r</c> (checked there by <see cref="DockerfilePublishTests"/>).</summary>
    public static IReadOnlyList<string> DockerfileFlags { get; } = ["--self-contained", "false", "-p:PublishReadyToRun=true", "-p:UseAppHost=false"];

    private static string? _directory;
    private static bool _owned;

    public static string Directory => _directory ?? throw new InvalidOperationException("The server was not published.");

    [OneTimeSetUp]
    public void Publish()
    {
        var existing = Environment.GetEnvironmentVariable("JITBROKER_CHART_TEST_PUBLISH_DIR");
        if (!string.IsNullOrEmpty(existing))
        {
            Assert.That(File.Exists(Path.Combine(existing, "JitBroker.Server.dll")), $"{existing} holds no JitBroker.Server.dll");
            _directory = existing;
            return;
        }

        _directory = System.IO.Directory.CreateTempSubdirectory("jitbroker-publish-").FullName;
        _owned = true;
        var info = new ProcessStartInfo(DotnetHost.Path) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[]
                 {
                     "publish", Path.Combine(RepoPaths.Root, "src", "JitBroker.Server", "JitBroker.Server.csproj"), "-c", "Release",
                     "-o", _directory, "--nologo", "-v", "quiet", "--disable-build-servers", "-r", RuntimeIdentifier,
                 }.Concat(DockerfileFlags))
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        // ReadyToRun compiles every assembly to native code too: minutes on a loaded 2-core machine (5 min seen).
        if (!process.WaitForExit(TimeSpan.FromMinutes(10)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("dotnet publish did not finish within 10 minutes");
        }

        Assert.That(process.ExitCode, Is.Zero, $"dotnet publish failed:\n{stdout.Result}\n{stderr.Result}");
    }

    /// <summary>The Dockerfile's choice for this machine: linux-arm64 on arm64, linux-x64 otherwise.</summary>
    private static string RuntimeIdentifier =>
        System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "linux-arm64" : "linux-x64";

    [OneTimeTearDown]
    public void Remove()
    {
        if (_owned && _directory is not null)
        {
            System.IO.Directory.Delete(_directory, recursive: true);
        }
    }
}

/// <summary>The dotnet host running this test (so the server runs on the same runtime).</summary>
internal static class DotnetHost
{
    public static string Path { get; } =
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
}
