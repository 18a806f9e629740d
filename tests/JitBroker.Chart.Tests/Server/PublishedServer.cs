using System.Diagnostics;
using NUnit.Framework;

namespace JitBroker.Chart.Tests.Server;

/// <summary>
/// The server as the image ships it, for every test of this namespace: published once by <c>scripts/publish-server.sh</c>,
/// the script the Dockerfile's build stage runs (self-contained, composite ReadyToRun for this machine's architecture).
/// JITBROKER_CHART_TEST_PUBLISH_DIR names an output of that script instead (scripts/test.sh publishes right after its
/// build, beside the short suites).
/// </summary>
[SetUpFixture]
public sealed class PublishedServer
{
    /// <summary>The script's output, started as the image's ENTRYPOINT starts it (checked by <see cref="DockerfilePublishTests"/>).</summary>
    public const string Executable = "JitBroker.Server";

    private static string? _directory;
    private static bool _owned;

    public static string Directory => _directory ?? throw new InvalidOperationException("The server was not published.");

    [OneTimeSetUp]
    public void Publish()
    {
        var existing = Environment.GetEnvironmentVariable("JITBROKER_CHART_TEST_PUBLISH_DIR");
        if (!string.IsNullOrEmpty(existing))
        {
            Assert.That(File.Exists(Path.Combine(existing, Executable)), $"{existing} holds no {Executable} (see scripts/test.sh's publish log)");
            _directory = existing;
            return;
        }

        _directory = System.IO.Directory.CreateTempSubdirectory("jitbroker-publish-").FullName;
        _owned = true;
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(RepoPaths.Root, "scripts", "publish-server.sh"));
        info.ArgumentList.Add(_directory);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        // A clean build of every project plus crossgen2 over the whole framework: 5-6 minutes on an idle 2-core machine.
        if (!process.WaitForExit(TimeSpan.FromMinutes(15)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("scripts/publish-server.sh did not finish within 15 minutes");
        }

        Assert.That(process.ExitCode, Is.Zero, $"scripts/publish-server.sh failed:\n{stdout.Result}\n{stderr.Result}");
    }

    [OneTimeTearDown]
    public void Remove()
    {
        if (_owned && _directory is not null)
        {
            System.IO.Directory.Delete(_directory, recursive: true);
        }
    }
}
