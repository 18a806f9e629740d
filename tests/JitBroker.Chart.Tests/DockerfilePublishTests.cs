using System.Text.RegularExpressions;
using JitBroker.Chart.Tests.Server;
using NUnit.Framework;

namespace JitBroker.Chart.Tests;

/// <summary>
/// The image's broker is published ReadyToRun (issue 22: start-up to ready under 1 s with the build the Dockerfile uses),
/// and the server tests of this project publish it the same way, so what they start is what the image runs.
/// </summary>
public sealed partial class DockerfilePublishTests
{
    [Test]
    public void The_build_stage_publishes_ReadyToRun_with_the_flags_the_server_tests_use()
    {
        var dockerfile = Regex.Replace(File.ReadAllText(Path.Combine(RepoPaths.Root, "Dockerfile")), @"\\\r?\n", " ");
        var publish = PublishCommand().Match(dockerfile);
        Assert.That(publish.Success, "the Dockerfile runs dotnet publish for the server");
        var command = string.Join(' ', publish.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Multiple(() =>
        {
            Assert.That(command, Does.Contain(string.Join(' ', PublishedServer.DockerfileFlags)), "the server tests publish as the image does");
            Assert.That(command, Does.Contain("-p:PublishReadyToRun=true"));
            Assert.That(command, Does.Match(@" -r \S+ "), "ReadyToRun needs a runtime identifier");
        });
    }

    [GeneratedRegex(@"dotnet publish [^\n&]*")]
    private static partial Regex PublishCommand();
}
